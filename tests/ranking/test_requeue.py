"""Retrains queued after a conflict is settled or reversed and after duplicates merge or split."""

from __future__ import annotations

import sqlalchemy as sa

from review.db import utcnow
from review.jobs import run_pending
from review.models import DuplicateCandidate, Job, Record
from review.services import conflicts, dedup, ranking
from review.services import ranking_features as rf
from tests.ranking.helpers import decide, setup_project

TA = "title_abstract"


def _queued(session, project_id: int) -> list[Job]:
    session.expire_all()
    return list(session.scalars(sa.select(Job).where(
        Job.kind == "retrain", Job.project_id == project_id, Job.status == "queued")))


def _run_queued(app, session, project_id: int) -> None:
    """Run the queued retrain now instead of after its debounce delay."""
    (job,) = _queued(session, project_id)
    job.run_after = utcnow()
    session.commit()
    assert run_pending(app.extensions["sieve_sessionmaker"]) == 1
    session.expire_all()


def test_resolving_and_reversing_a_conflict_queue_a_retrain(app, session) -> None:
    project, lead, reviewer, records = setup_project(session)
    decide(session, records[0], lead, "include")
    decide(session, records[0], reviewer, "exclude", slot=2)
    decide(session, records[-1], lead, "exclude")
    decide(session, records[-1], reviewer, "exclude", slot=2)
    session.commit()
    assert _queued(session, project.id) == []  # decisions stored directly queue nothing
    conflicts.resolve(session, project_id=project.id, record_id=records[0].id, stage=TA,
                      lead_id=lead.id, label="exclude")
    session.commit()
    assert len(_queued(session, project.id)) == 1
    _run_queued(app, session, project.id)
    run = ranking.latest_run(session, project_id=project.id)
    assert run is not None and (run.n_labels, run.n_included) == (2, 0)  # the resolution rules
    conflicts.unresolve(session, project_id=project.id, record_id=records[0].id, stage=TA,
                        lead_id=lead.id)
    session.commit()
    assert len(_queued(session, project.id)) == 1
    _run_queued(app, session, project.id)
    run = ranking.latest_run(session, project_id=project.id)
    assert run is not None and (run.n_labels, run.n_included) == (2, 1)  # either include counts


def test_a_conflict_at_full_text_queues_nothing(session) -> None:
    project, lead, reviewer, records = setup_project(session)
    decide(session, records[0], lead, "include", stage="full_text")
    decide(session, records[0], reviewer, "exclude", slot=2, stage="full_text")
    session.commit()
    reason = project.reasons[0]
    conflicts.resolve(session, project_id=project.id, record_id=records[0].id,
                      stage="full_text", lead_id=lead.id, label="exclude", reason_id=reason.id)
    session.commit()
    assert _queued(session, project.id) == []


def _pair(session, project) -> tuple[Record, Record]:
    """Two records the dedup engine sends to review: same title and authors, nothing else."""
    title = "Commissioning for outcomes: lessons from the first social outcomes partnerships"
    a = Record(project_id=project.id, title=title, authors=["Carter, Eleanor"], keywords=[],
               raw={})
    b = Record(project_id=project.id, title=title, authors=["Carter, E."], keywords=[], raw={})
    session.add_all([a, b])
    session.flush()
    return a, b


def test_merging_and_splitting_duplicates_queue_a_retrain_with_new_features(app, session) -> None:
    project, lead, _, records = setup_project(session)
    a, b = _pair(session, project)
    session.commit()
    dedup.dedup_new_records(session, project_id=project.id)
    session.commit()
    assert _queued(session, project.id) == []  # a pair to review changes no kept record
    first = ranking.retrain(session, project_id=project.id)
    session.commit()
    assert first.metrics["n_records"] == len(records) + 2
    version = rf.records_version(session, project.id)
    cand = _pending(session, project.id)
    dedup.decide_pair(session, project_id=project.id, candidate_id=cand, lead_id=lead.id,
                      is_duplicate=True)
    session.commit()
    assert rf.records_version(session, project.id) == version + 1
    assert len(_queued(session, project.id)) == 1
    _run_queued(app, session, project.id)
    run = ranking.latest_run(session, project_id=project.id)
    assert run is not None and run.metrics["features"] == "built"
    assert run.metrics["n_records"] == len(records) + 1
    dedup.undo(session, project_id=project.id, candidate_id=cand, lead_id=lead.id)
    session.commit()
    assert rf.records_version(session, project.id) == version + 2
    assert len(_queued(session, project.id)) == 1
    _run_queued(app, session, project.id)
    run = ranking.latest_run(session, project_id=project.id)
    assert run is not None and run.metrics["n_records"] == len(records) + 2


def _pending(session, project_id: int) -> int:
    ids = session.scalars(sa.select(DuplicateCandidate.id).where(
        DuplicateCandidate.project_id == project_id,
        DuplicateCandidate.status == "pending")).all()
    assert len(ids) == 1, ids
    return ids[0]
