import pickle
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from screening.ranking import (
    DEFAULT_RANKER,
    available_rankers,
    build_features,
    calibration_sample,
    features_key,
    load_ranker,
    protocol_order,
    rank,
    read_labelled_csv,
    record_text,
    simulate,
    training_labels,
)

SETS = Path(__file__).resolve().parents[3] / "shared" / "data" / "screening"

TEXTS = [
    "social impact bond outcomes payment evaluation",
    "payment by results contract for employment outcomes",
    "impact bond for homelessness outcomes fund",
    "protein folding in yeast cells",
    "cardiac surgery outcomes in elderly patients",
    "deep sea fish and coral reefs",
    "outcomes based contracting in health services",
    "crystal structure of a membrane protein",
]
LABELS = {0: 1, 3: 0, 5: 0, 1: 1}


@pytest.fixture(scope="module")
def feats():
    return build_features(TEXTS)


def _y(n, labels):
    y = np.full(n, -1)
    for k, v in labels.items():
        y[k] = v
    return y


@pytest.mark.parametrize("name", available_rankers(embeddings=False))
def test_ranker_follows_the_estimator_contract(name, feats):
    model = load_ranker(name, random_state=3)
    assert model.name == name
    twin = clone(model)
    assert twin.get_params() == model.get_params()
    assert twin.get_params()["random_state"] == 3
    with pytest.raises(NotFittedError):
        model.predict_proba(feats.matrix)
    assert model.fit(feats.matrix, _y(len(TEXTS), LABELS)) is model
    proba = model.predict_proba(feats.matrix)
    assert proba.shape == (len(TEXTS), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert list(model.classes_) == [0, 1]


@pytest.mark.parametrize("name", available_rankers(embeddings=False))
def test_ranker_puts_similar_records_above_dissimilar_ones(name, feats):
    scores = rank(feats, LABELS, ranker=name)
    # records 2 and 6 are about outcomes contracting, 7 is about proteins
    assert scores[2] > scores[7]
    assert scores[6] > scores[7]


@pytest.mark.parametrize("name", available_rankers(embeddings=False))
def test_same_seed_gives_same_ranking(name, feats):
    a = rank(feats, LABELS, ranker=name, random_state=7)
    b = rank(feats, LABELS, ranker=name, random_state=7)
    np.testing.assert_array_equal(a, b)


def test_pseudo_negatives_depend_on_the_seed_only(feats):
    def scores(seed):
        model = load_ranker("tfidf-svm", n_pseudo_negatives=2, random_state=seed)
        return rank(feats, LABELS, ranker=model)

    np.testing.assert_array_equal(scores(1), scores(1))


def test_ranking_with_only_includes_uses_similarity(feats):
    scores = rank(feats, {0: 1})
    assert scores[2] > scores[5]


def test_rank_without_labels_asks_for_protocol_order(feats):
    with pytest.raises(ValueError, match="protocol_order"):
        rank(feats, {})


def test_bad_labels_are_rejected(feats):
    with pytest.raises(ValueError, match="row 99"):
        rank(feats, {99: 1})
    with pytest.raises(ValueError, match="0 or 1"):
        rank(feats, {0: 2})


def test_unknown_ranker_lists_the_options():
    with pytest.raises(ValueError) as err:
        load_ranker("no-such-model")
    message = str(err.value)
    assert "no-such-model" in message
    for name in available_rankers():
        assert name in message


def test_default_ranker_name_is_stable():
    assert DEFAULT_RANKER == "tfidf-svm-fast"
    # the exact ELAS u4 recipe stays available under its own name
    assert "tfidf-svm" in available_rankers()
    assert load_ranker("default").name == DEFAULT_RANKER


def test_features_pickle_and_keep_shape(feats):
    again = pickle.loads(pickle.dumps(feats))
    assert again.matrix.shape == feats.matrix.shape
    assert (again.matrix != feats.matrix).nnz == 0
    assert feats.n_records == len(TEXTS)


def test_features_key_changes_with_any_text():
    key = features_key(TEXTS)
    assert key == features_key(list(TEXTS))
    assert key != features_key(TEXTS[:-1])
    assert key != features_key([*TEXTS[:-1], TEXTS[-1] + " x"])


def test_features_of_empty_texts_still_rank():
    f = build_features(["", "", ""])
    assert rank(f, {0: 1, 1: 0}).shape == (3,)


def test_record_text_joins_fields():
    text = record_text("A title", None, ["kw1", "kw2"], "J Econ")
    assert text == "A title kw1 kw2 J Econ"


def test_protocol_order_prefers_matching_records():
    scores = protocol_order(
        TEXTS,
        "Studies of social impact bonds and outcomes-based contracts",
        include_terms=["impact bond", "payment by results"],
        exclude_terms=["protein"],
    )
    top = set(np.argsort(-scores)[:3])
    assert top <= {0, 1, 2, 6}
    assert scores[3] < 0 and scores[7] < 0


def test_calibration_sample_is_random_but_reproducible():
    a = calibration_sample(1000, 50, seed=4)
    assert a == calibration_sample(1000, 50, seed=4)
    assert a != calibration_sample(1000, 50, seed=5)
    assert len(set(a)) == 50 and all(0 <= i < 1000 for i in a)
    assert calibration_sample(10, 50, seed=1) == list(range(10))


def test_training_labels_follow_dual_screening_rules():
    decisions = {
        1: ["include", "exclude"],  # conflict: include wins until resolved
        2: ["exclude", "exclude"],
        3: ["maybe"],
        4: ["include", "exclude"],
        5: [],
    }
    labels = training_labels(decisions, {4: "exclude", 6: "include"})
    assert labels == {1: 1, 2: 0, 3: 1, 4: 0, 6: 1}
    with pytest.raises(ValueError, match="unknown screening label"):
        training_labels({1: ["yes"]})


@pytest.mark.skipif(not SETS.exists(), reason="shared screening data absent")
def test_ranker_finds_includes_faster_than_random_on_a_real_set():
    data = read_labelled_csv(SETS / "cohen_2006_adhd.csv")
    budget = len(data.texts) // 10
    result = simulate(
        data.texts, data.labels, seed=1, record_ids=data.record_ids, max_iterations=budget
    )
    found = result.order.labels[: budget + 2].sum() / data.labels.sum()
    # screening 10% at random finds about 10% of the includes; the ranker finds far more
    assert found >= 0.4


def test_capped_solver_fits_without_a_convergence_warning(feats):
    # pytest turns warnings into errors: a capped liblinear must stay silent on purpose
    model = load_ranker("tfidf-svm-fast", max_iter=1, random_state=0)
    scores = rank(feats, LABELS, ranker=model)
    assert scores[2] > scores[7]


def test_exclude_sample_keeps_every_include_and_depends_on_the_seed_only(feats):
    many = {0: 1, 1: 1, 3: 0, 5: 0, 7: 0}

    def scores(seed):
        model = load_ranker("tfidf-svm-fast", max_excludes=1, random_state=seed)
        return rank(feats, many, ranker=model)

    np.testing.assert_array_equal(scores(4), scores(4))
    # with one exclude sampled of three, both includes still pull records 2 and 6 up
    assert scores(4)[2] > scores(4)[7] and scores(4)[6] > scores(4)[7]
    # a cap above the number of excludes changes nothing: the exact fit
    model = load_ranker("tfidf-svm-fast", max_excludes=10, max_iter=1000, random_state=0)
    np.testing.assert_allclose(
        rank(feats, many, ranker=model), rank(feats, many, ranker="tfidf-svm")
    )


@pytest.mark.skipif(not SETS.exists(), reason="shared screening data absent")
def test_fast_ranker_orders_a_real_set_like_the_exact_one():
    data = read_labelled_csv(SETS / "cohen_2006_adhd.csv")
    f = build_features(data.texts)
    rows = np.random.default_rng(0).permutation(len(data.texts))[:600]
    labels = {int(r): int(data.labels[r]) for r in rows}
    labels[int(np.flatnonzero(data.labels == 1)[0])] = 1
    unscreened = np.setdiff1d(np.arange(len(data.texts)), list(labels))
    exact = rank(f, labels, ranker="tfidf-svm")[unscreened]
    fast = rank(f, labels, ranker="tfidf-svm-fast")[unscreened]  # 500 of the excludes
    top = 50
    overlap = np.intersect1d(np.argsort(-exact)[:top], np.argsort(-fast)[:top]).size
    # the records a reviewer sees next are nearly the same ones
    assert overlap >= 0.8 * top
