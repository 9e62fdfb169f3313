"""Retraining through the service: ranks in the database, features cached, labels, protocol."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from review.db import utcnow
from review.jobs import run_pending
from review.models import Decision, FeatureSet, Job, ModelRun, Record
from review.services import ranking
from review.services.screening import next_record
from screening.ranking import DEFAULT_RANKER, calibration_sample
from tests.ranking.helpers import BOND, decide, resolve, setup_project

TERMS = {"include_terms": ["impact bond", "outcomes fund"],
         "inclusion_criteria": "Social impact bonds, payment by results, outcomes funds."}


def _ranks(session, project_id):
    return dict(session.execute(sa.select(Record.id, Record.rank).where(
        Record.project_id == project_id)).all())


def test_protocol_orders_records_before_any_label(session) -> None:
    project, lead, _, records = setup_project(session, **TERMS)
    run = ranking.retrain(session, project_id=project.id)
    assert run.model_name == ranking.PROTOCOL_MODEL and run.n_labels == 0
    ranks = _ranks(session, project.id)
    bond_ids = {r.id for r in records[:len(BOND)]}
    assert {rid for rid, rk in ranks.items() if rk <= len(BOND)} == bond_ids
    # excludes only: still one class, still the protocol
    decide(session, records[-1], lead, "exclude")
    assert ranking.retrain(session, project_id=project.id).model_name == ranking.PROTOCOL_MODEL


def test_retrain_writes_ranks_that_the_screening_queue_follows(session) -> None:
    project, lead, reviewer, records = setup_project(session)
    decide(session, records[0], lead, "include")
    decide(session, records[-1], lead, "exclude")
    run = ranking.retrain(session, project_id=project.id)
    session.commit()
    assert run.model_name == DEFAULT_RANKER and (run.n_labels, run.n_included) == (2, 1)
    rows = session.execute(sa.select(Record.id, Record.rank, Record.score, Record.model_run_id)
                           .where(Record.project_id == project.id)).all()
    assert sorted(r.rank for r in rows) == list(range(1, len(records) + 1))
    assert all(r.model_run_id == run.id for r in rows)
    by_rank = sorted(rows, key=lambda r: r.rank)
    assert [r.score for r in by_rank] == sorted((r.score for r in rows), reverse=True)
    # unscreened bond records come first: the model learnt from one include
    unlabelled = [r.id for r in by_rank if r.id not in (records[0].id, records[-1].id)]
    assert set(unlabelled[:3]) <= {r.id for r in records[:len(BOND)]}
    # the reviewer's next record is the best-ranked one they have not decided
    nxt = next_record(session, project_id=project.id, reviewer_id=reviewer.id,
                      stage="title_abstract")
    assert nxt is not None and nxt.id == by_rank[0].id


def test_ranks_are_written_in_bulk(session) -> None:
    project, lead, _, records = setup_project(session)
    decide(session, records[0], lead, "include")
    decide(session, records[-1], lead, "exclude")
    updates: list[bool] = []

    def count(conn, cursor, statement, params, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE RECORDS"):
            updates.append(executemany)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        ranking.retrain(session, project_id=project.id)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    # the ranks in one statement (executemany on SQLite, one UPDATE from arrays on PostgreSQL),
    # plus at most one clearing merged duplicates: never one statement per record
    assert 1 <= len(updates) <= 2, updates


def test_features_are_cached_and_rebuilt_when_records_change(session) -> None:
    project, lead, _, records = setup_project(session)
    first = ranking.retrain(session, project_id=project.id)
    stored = session.get(FeatureSet, project.id)
    assert first.metrics["features"] == "built" and stored is not None
    fp, created = stored.fingerprint, stored.created_at
    assert ranking.retrain(session, project_id=project.id).metrics["features"] == "memory"
    ranking.clear_memory_cache()  # as after a restart of the worker
    assert ranking.retrain(session, project_id=project.id).metrics["features"] == "stored"
    session.refresh(stored)
    assert (stored.fingerprint, stored.created_at) == (fp, created)
    # a new record, an edited abstract, a merged duplicate: each rebuilds. A new record or a
    # merge changes the kept ids, seen even when nothing raised the records version ...
    session.add(Record(project_id=project.id, title="A new bond study", authors=[],
                       keywords=[], raw={}))
    session.flush()
    assert ranking.retrain(session, project_id=project.id).metrics["features"] == "built"
    assert ranking.retrain(session, project_id=project.id).metrics["features"] == "memory"
    # ... an edited text is announced by the service that edits it
    records[3].abstract = "Edited abstract."
    ranking.records_changed(session, project_id=project.id)
    session.flush()
    assert ranking.retrain(session, project_id=project.id).metrics["features"] == "built"
    records[5].canonical_id = records[4].id
    session.flush()
    run = ranking.retrain(session, project_id=project.id)
    assert run.metrics["features"] == "built" and run.metrics["n_records"] == len(records)
    session.refresh(records[5])
    assert records[5].rank is None
    session.refresh(stored)
    assert stored.fingerprint != fp


def test_training_labels_follow_the_dual_screening_rule(session) -> None:
    project, lead, reviewer, r = setup_project(session)
    decide(session, r[0], lead, "include")
    decide(session, r[0], reviewer, "exclude", slot=2)  # either include counts
    decide(session, r[1], lead, "exclude")
    decide(session, r[1], reviewer, "exclude", slot=2)
    decide(session, r[2], reviewer, "maybe")  # maybe trains as include
    decide(session, r[3], lead, "include")
    decide(session, r[3], reviewer, "exclude", slot=2)
    resolve(session, r[3], lead, "exclude")  # the resolution overrides
    decide(session, r[4], lead, "exclude")
    decide(session, r[4], reviewer, "exclude", slot=2)
    resolve(session, r[4], lead, "include")
    decide(session, r[6], lead, "include", stage="full_text")  # another stage
    labels = ranking.project_labels(session, project_id=project.id)
    assert labels == {r[0].id: 1, r[1].id: 0, r[2].id: 1, r[3].id: 0, r[4].id: 1}
    run = ranking.retrain(session, project_id=project.id)
    assert (run.n_labels, run.n_included) == (5, 3)


def test_calibration_sample_comes_first_and_is_kept(session) -> None:
    project, lead, _, records = setup_project(session, **TERMS)
    run = ranking.retrain(session, project_id=project.id, calibration={"size": 4, "seed": 7})
    sample = {records[i].id for i in calibration_sample(len(records), 4, 7)}
    ranks = _ranks(session, project.id)
    assert {rid for rid, rk in ranks.items() if rk <= 4} == sample
    assert run.params["calibration"] == {"size": 4, "seed": 7}
    decide(session, records[0], lead, "include")
    decide(session, records[-1], lead, "exclude")
    again = ranking.retrain(session, project_id=project.id)  # setting carried forward
    unscreened = sample - {records[0].id, records[-1].id}
    ranks = _ranks(session, project.id)
    assert {rid for rid, rk in ranks.items() if rk <= len(unscreened)} == unscreened
    assert again.params["calibration"] == {"size": 4, "seed": 7}
    off = ranking.retrain(session, project_id=project.id, calibration={"size": 0})
    assert "calibration" not in off.params


def test_retrain_job_is_debounced_and_reports_freshness(app, session) -> None:
    project, lead, _, records = setup_project(session)
    session.commit()
    status = ranking.ranking_status(session, project_id=project.id)
    assert status.run is None and not status.queued and status.age_text == "never"
    first = ranking.request_retrain(session, project_id=project.id, delay_s=0)
    second = ranking.request_retrain(session, project_id=project.id, delay_s=0)
    assert first is not None and second is not None and first.id == second.id
    assert ranking.request_retrain(session, project_id=project.id, stage="full_text") is None
    session.commit()
    assert ranking.ranking_status(session, project_id=project.id).queued
    assert run_pending(app.extensions["sieve_sessionmaker"]) == 1
    session.commit()  # a new snapshot: the job wrote from another session
    status = ranking.ranking_status(session, project_id=project.id)
    assert status.run is not None and not status.queued and status.labels_since == 0
    assert status.age_text == "just now"
    assert session.scalar(sa.select(sa.func.count()).select_from(Record).where(
        Record.project_id == project.id, Record.rank.is_not(None))) == len(records)
    decide(session, records[0], lead, "include")
    session.commit()
    assert ranking.ranking_status(session, project_id=project.id).labels_since == 1


def test_a_retrain_waiting_long_is_not_pushed_back(session) -> None:
    project, *_ = setup_project(session)
    job = ranking.request_retrain(session, project_id=project.id)
    assert job is not None
    job.created_at = utcnow() - timedelta(seconds=ranking.RETRAIN_MAX_WAIT_S + 5)
    due = job.run_after
    session.flush()
    again = ranking.request_retrain(session, project_id=project.id)
    assert again is not None and again.id == job.id and again.run_after == due


def test_a_failed_retrain_is_reported(app, session) -> None:
    from review.errors import ValidationError
    from review.jobs import enqueue

    project, *_ = setup_project(session)
    with pytest.raises(ValidationError, match="no-such-model"):  # refused when asked for
        ranking.request_retrain(session, project_id=project.id, delay_s=0, ranker="no-such-model")
    # a ranker gone by the time the job runs (a plugin uninstalled since): the job fails
    enqueue(session, kind="retrain", project_id=project.id,
            params={"stage": ranking.STAGE, "ranker": "no-such-model"})
    session.commit()
    run_pending(app.extensions["sieve_sessionmaker"])
    session.commit()
    status = ranking.ranking_status(session, project_id=project.id)
    assert status.failed and "no-such-model" in status.failed
    assert session.scalar(sa.select(sa.func.count()).select_from(ModelRun)) == 0
    assert session.scalar(sa.select(Job.status)) == "failed"


def test_a_decision_queues_one_retrain_and_the_job_ranks(app, session) -> None:
    from review.services.screening import record_decision

    project, lead, reviewer, records = setup_project(session)
    for rec, label in ((records[0], "include"), (records[-1], "exclude")):
        record_decision(session, project_id=project.id, record_id=rec.id, reviewer_id=lead.id,
                        stage="title_abstract", label=label)
    session.commit()
    jobs = list(session.scalars(sa.select(Job).where(Job.kind == "retrain")))
    assert len(jobs) == 1 and jobs[0].status == "queued"
    jobs[0].run_after = utcnow()  # due now instead of after the debounce delay
    session.commit()
    assert run_pending(app.extensions["sieve_sessionmaker"]) == 1
    session.commit()
    run = ranking.latest_run(session, project_id=project.id)
    assert run is not None and run.model_name == DEFAULT_RANKER and run.n_labels == 2


def test_stored_features_load_the_vocabulary_only_when_the_protocol_needs_it(session) -> None:
    project, lead, _, records = setup_project(session, **TERMS)
    protocol_ranks = (ranking.retrain(session, project_id=project.id), _ranks(session, project.id))
    decide(session, records[0], lead, "include")
    decide(session, records[-1], lead, "exclude")
    ranking.clear_memory_cache()
    run = ranking.retrain(session, project_id=project.id)
    assert (run.metrics["features"], run.model_name) == ("stored", DEFAULT_RANKER)
    # back to one class (a decision revised): the protocol order needs the vocabulary again
    session.execute(sa.delete(Decision).where(Decision.record_id == records[0].id))
    again = ranking.retrain(session, project_id=project.id)
    assert (again.metrics["features"], again.model_name) == ("stored", ranking.PROTOCOL_MODEL)
    bond = {r.id for r in records[:len(BOND)]}
    ranks = _ranks(session, project.id)
    assert {rid for rid, rk in ranks.items() if rk <= len(BOND)} == bond
    assert protocol_ranks[0].model_name == ranking.PROTOCOL_MODEL


def test_a_retrain_with_cached_features_reads_no_record_text(session) -> None:
    project, lead, _, records = setup_project(session)
    decide(session, records[0], lead, "include")
    decide(session, records[-1], lead, "exclude")
    assert ranking.retrain(session, project_id=project.id).metrics["features"] == "built"
    decide(session, records[1], lead, "include")
    statements: list[str] = []

    def seen(conn, cursor, statement, params, context, executemany):
        statements.append(" ".join(statement.split()).lower())

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", seen)
    try:
        ranking.clear_memory_cache()  # the stored features: loaded, not rebuilt
        run = ranking.retrain(session, project_id=project.id)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert run.metrics["features"] == "stored" and run.n_labels == 3
    reads = [s for s in statements if s.startswith("select") and "from records" in s]
    assert reads and not [s for s in reads if "abstract" in s or "title" in s], reads


def test_records_version_counts_changes_per_project(session) -> None:
    from review.services import ranking_features as rf

    project, _lead, _reviewer, records = setup_project(session)
    other, *_ = setup_project(session)
    assert rf.records_version(session, project.id) == 0
    ranking.records_changed(session, project_id=project.id)
    ranking.records_changed(session, project_id=project.id)
    ranking.records_changed(session, project_id=other.id)
    session.commit()
    assert rf.records_version(session, project.id) == 2
    assert rf.records_version(session, other.id) == 1
    # the features' key: the version and the number of kept records, counted in SQL
    assert rf.kept_count(session, project.id) == len(records)
    records[1].canonical_id = records[0].id
    session.flush()
    assert rf.kept_count(session, project.id) == len(records) - 1
    assert rf.fingerprint(2, len(records)) not in (rf.fingerprint(1, len(records)),
                                                   rf.fingerprint(2, len(records) - 1))
    # each change also queues one (debounced) retrain
    assert session.scalar(sa.select(sa.func.count()).select_from(Job).where(
        Job.kind == "retrain", Job.project_id == project.id, Job.status == "queued")) == 1


def test_later_retrains_rewrite_only_the_top_and_keep_it_exact(session, monkeypatch) -> None:
    monkeypatch.setattr(ranking, "RANK_WRITE_TOP", 3)
    project, lead, reviewer, records = setup_project(session)
    decide(session, records[0], lead, "include")
    decide(session, records[-1], lead, "exclude")
    first = ranking.retrain(session, project_id=project.id)  # features built: all written
    assert first.metrics["ranks_written"] == len(records)
    decide(session, records[1], lead, "include")
    decide(session, records[-2], lead, "exclude")
    second = ranking.retrain(session, project_id=project.id)
    assert second.metrics["partial_writes"] == 1
    assert 3 <= second.metrics["ranks_written"] <= 6
    rows = session.execute(sa.select(Record.id, Record.rank, Record.score, Record.model_run_id)
                           .where(Record.project_id == project.id)).all()
    fresh = sorted((r for r in rows if r.model_run_id == second.id), key=lambda r: r.rank)
    # the three best of the new model hold ranks 1..3; every other record ranks below them
    assert [r.rank for r in fresh[:3]] == [1, 2, 3]
    assert all(r.rank > 3 for r in rows if r.id not in {f.id for f in fresh[:3]})
    assert min(r.score for r in fresh[:3]) >= max(
        (r.score for r in fresh[3:]), default=float("-inf"))
    nxt = next_record(session, project_id=project.id, reviewer_id=reviewer.id,
                      stage="title_abstract")
    assert nxt is not None and nxt.id == fresh[0].id
    monkeypatch.setattr(ranking, "RANK_REFRESH_TOP", 8)
    for _ in range(ranking.REFRESH_EVERY - 2):
        assert ranking.retrain(session, project_id=project.id).metrics["ranks_written"] <= 6
    # every REFRESH_EVERY-th retrain rewrites a wider top: exact ranks 1..8, the rest below
    wide = ranking.retrain(session, project_id=project.id)
    assert 8 <= wide.metrics["ranks_written"] < len(records)
    assert wide.metrics["partial_writes"] == 0
    rows = session.execute(sa.select(Record.id, Record.rank, Record.model_run_id)
                           .where(Record.project_id == project.id)).all()
    top = sorted(r.rank for r in rows if r.model_run_id == wide.id)[:8]
    assert top == list(range(1, 9)) and all(
        r.rank > 8 for r in rows if r.model_run_id != wide.id)
    # a change of the records (here a new one) rewrites every rank
    session.add(Record(project_id=project.id, title="Another bond study", authors=[],
                       keywords=[], raw={}))
    session.flush()
    assert ranking.retrain(session, project_id=project.id).metrics["ranks_written"] == len(
        records) + 1


def test_the_chosen_ranker_stays_for_the_retrains_after_it(app, session) -> None:
    project, lead, _, records = setup_project(session)
    # chosen before both labels exist: the protocol orders, and its run keeps the choice
    first = ranking.retrain(session, project_id=project.id, ranker="tfidf-logreg")
    assert first.model_name == ranking.PROTOCOL_MODEL
    decide(session, records[0], lead, "include")
    decide(session, records[-1], lead, "exclude")
    assert ranking.retrain(session, project_id=project.id).model_name == "tfidf-logreg"
    # the background retrain that decisions queue keeps it too
    decide(session, records[1], lead, "include")
    ranking.request_retrain(session, project_id=project.id, delay_s=0)
    session.commit()
    assert run_pending(app.extensions["sieve_sessionmaker"]) == 1
    session.commit()
    run = ranking.latest_run(session, project_id=project.id)
    assert run is not None and run.model_name == "tfidf-logreg" and run.n_labels == 3
    # until the lead picks another; switching rankers rewrites every rank
    run = ranking.retrain(session, project_id=project.id, ranker=DEFAULT_RANKER)
    assert run.model_name == DEFAULT_RANKER
    assert run.metrics["ranks_written"] == len(records)
    assert ranking.retrain(session, project_id=project.id).model_name == DEFAULT_RANKER


def test_an_unknown_ranker_is_refused_and_nothing_is_written(session) -> None:
    from review.errors import ValidationError

    project, lead, _, records = setup_project(session)
    decide(session, records[0], lead, "include")
    decide(session, records[-1], lead, "exclude")
    with pytest.raises(ValidationError) as caught:
        ranking.retrain(session, project_id=project.id, ranker="no-such-model")
    assert caught.value.field == "ranker"
    assert "no-such-model" in caught.value.message and DEFAULT_RANKER in caught.value.message
    assert session.scalar(sa.select(sa.func.count()).select_from(ModelRun)
                          .where(ModelRun.project_id == project.id)) == 0
