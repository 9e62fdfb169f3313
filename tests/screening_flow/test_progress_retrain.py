"""Kept team progress and retrain requests: what a decision, a revision and an undo change."""

from __future__ import annotations

import sqlalchemy as sa

from review.db import utcnow
from review.models import Job
from review.services import screening as s
from tests.factories import make_records

TA = "title_abstract"
KEEP = 3600.0  # seconds: counts kept this long are never recounted during a test


def decide(session, team, user, record, label="include"):
    decision = s.record_decision(session, project_id=team.pid, record_id=record.id,
                                 reviewer_id=user.id, stage=TA, label=label)
    session.commit()
    return decision


def kept(session, team, user):
    return s.progress_for(session, project=team.project, reviewer_id=user.id, stage=TA,
                          team_max_age=KEEP)


def retrains(session):
    session.commit()  # a new snapshot: see what the app committed meanwhile
    session.expire_all()
    return list(session.scalars(sa.select(Job).where(Job.kind == "retrain").order_by(Job.id)))


def test_kept_team_counts_follow_decisions_made_here_at_once(session, team):
    r = team.records
    before = kept(session, team, team.ada)
    assert (before.total, before.complete, before.team_decisions) == (6, 0, 0)
    decide(session, team, team.ben, r[0])
    p = kept(session, team, team.ada)
    assert (p.team_decisions, p.complete, p.my_remaining) == (1, 0, 6)
    decide(session, team, team.ada, r[0])  # the second of two: r0 is complete
    decide(session, team, team.ada, r[1])  # waits for someone else
    p = kept(session, team, team.ada)
    assert (p.mine, p.team_decisions, p.complete, p.my_remaining) == (2, 3, 1, 4)
    s.undo_last(session, project_id=team.pid, reviewer_id=team.ada.id, stage=TA)  # r1 back
    session.commit()
    s.undo_last(session, project_id=team.pid, reviewer_id=team.ada.id, stage=TA)  # r0 open
    session.commit()
    p = kept(session, team, team.ada)
    assert (p.mine, p.team_decisions, p.complete, p.my_remaining) == (0, 1, 0, 6)
    exact = s.progress_for(session, project=team.project, reviewer_id=team.ada.id, stage=TA)
    assert exact == p


def test_a_rolled_back_decision_leaves_kept_counts_alone(session, team):
    kept(session, team, team.ada)
    s.record_decision(session, project_id=team.pid, record_id=team.records[0].id,
                      reviewer_id=team.ada.id, stage=TA, label="include")
    session.rollback()
    session.commit()  # a later commit of the same session brings nothing back
    p = kept(session, team, team.ada)
    assert (p.mine, p.team_decisions) == (0, 0)


def test_changes_made_elsewhere_show_when_counted_again(session, team):
    assert kept(session, team, team.ada).total == 6
    make_records(session, team.project, 4)  # an import, not a decision: not added at once
    session.commit()
    assert kept(session, team, team.ada).total == 6
    fresh = s.progress_for(session, project=team.project, reviewer_id=team.ada.id, stage=TA)
    assert fresh.total == 10 and kept(session, team, team.ada).total == 10


def test_a_burst_of_decisions_queues_one_retrain_that_starts_after_the_last(session, team):
    for record in team.records[:4]:
        started = utcnow()
        decide(session, team, team.ada, record)
    jobs = retrains(session)
    assert [j.status for j in jobs] == ["queued"]
    assert jobs[0].run_after.replace(tzinfo=None) > started.replace(tzinfo=None)


def test_a_decision_after_the_retrain_started_queues_another(session, team):
    decide(session, team, team.ada, team.records[0])
    (job,) = retrains(session)
    job.status = "running"  # the worker took it; it may not see later labels
    session.commit()
    decide(session, team, team.ada, team.records[1])
    assert [j.status for j in retrains(session)] == ["running", "queued"]


def test_a_retrain_moved_forward_is_pushed_back_by_the_next_decision(session, team):
    decide(session, team, team.ada, team.records[0])
    (job,) = retrains(session)
    job.run_after = utcnow()  # due now (as if a lead asked for it)
    session.commit()
    due = retrains(session)[0].run_after
    decide(session, team, team.ada, team.records[1])
    (job,) = retrains(session)
    assert job.status == "queued" and job.run_after > due


def test_revising_a_label_queues_a_retrain_a_note_alone_does_not(client, auth, team, session):
    rec = team.records[0]
    decide(session, team, team.ada, rec)
    for job in retrains(session):
        job.status = "done"
    session.commit()
    auth.login(team.ada.email)
    mine = f"/projects/{team.pid}/screening/mine"
    response = auth.post(mine, {"record_id": rec.id, "label": "include", "stage": TA,
                                "note": "same label, a note"})
    assert response.status_code == 303 and [j.status for j in retrains(session)] == ["done"]
    response = auth.post(mine, {"record_id": rec.id, "label": "exclude", "stage": TA})
    assert response.status_code == 303
    assert [j.status for j in retrains(session)] == ["done", "queued"]


def test_undoing_a_decision_queues_a_retrain(session, team):
    decide(session, team, team.ada, team.records[0])
    for job in retrains(session):
        job.status = "done"
    session.commit()
    s.undo_last(session, project_id=team.pid, reviewer_id=team.ada.id, stage=TA)
    session.commit()
    assert [j.status for j in retrains(session)] == ["done", "queued"]
