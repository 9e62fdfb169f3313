"""Pilot rounds: a seeded draw, decisions apart from the quota, agreement before screening."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from review.errors import ConflictError, NotFound, PermissionDenied, ValidationError
from review.models import AuditEvent, Decision, PilotDecision
from review.services import pilot as service
from review.services.dashboard import project_counts


def _start(session, team, n=4, seed=7):
    pilot = service.start_pilot(session, project_id=team.project.id, lead_id=team.lead.id, n=n,
                                seed=seed)
    session.commit()
    return pilot


def test_draw_is_seeded_recorded_and_from_the_project(session, team) -> None:
    pilot = _start(session, team)
    ids = {r.id for r in team.records}
    assert len(pilot.record_ids) == 4 and set(pilot.record_ids) <= ids
    assert len(set(pilot.record_ids)) == 4 and pilot.seed == 7
    event = session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "pilot.start"))
    assert event.after["seed"] == 7 and event.after["record_ids"] == pilot.record_ids
    service.close_pilot(session, project_id=team.project.id, pilot_id=pilot.id,
                        lead_id=team.lead.id)
    again = _start(session, team)
    assert again.record_ids == pilot.record_ids  # same seed, same records
    other = _start_closed_then(session, team, seed=8)
    assert other.seed == 8


def _start_closed_then(session, team, seed):
    current = service.open_round(session, project_id=team.project.id)
    service.close_pilot(session, project_id=team.project.id, pilot_id=current.id,
                        lead_id=team.lead.id)
    return _start(session, team, seed=seed)


def test_one_open_round_and_sensible_n(session, team) -> None:
    pid, lead = team.project.id, team.lead.id
    with pytest.raises(ValidationError):
        service.start_pilot(session, project_id=pid, lead_id=lead, n=0)
    with pytest.raises(ValidationError):
        service.start_pilot(session, project_id=pid, lead_id=lead, n=len(team.records) + 1)
    with pytest.raises(PermissionDenied):
        service.start_pilot(session, project_id=pid, lead_id=team.alice.id, n=2)
    _start(session, team, n=2)
    with pytest.raises(ConflictError):
        service.start_pilot(session, project_id=pid, lead_id=lead, n=2)


def test_pilot_decisions_stay_apart_and_agreement_shows_when_all_decided(session, team) -> None:
    pilot = _start(session, team, n=3)
    pid = team.project.id
    alice_labels = ["include", "exclude", "exclude"]
    bob_labels = ["include", "exclude", "maybe"]
    for rid, label in zip(pilot.record_ids, alice_labels, strict=True):
        service.record_pilot_decision(session, project_id=pid, pilot_id=pilot.id, record_id=rid,
                                      reviewer_id=team.alice.id, label=label)
    session.commit()
    status = service.pilot_status(session, project_id=pid, pilot_id=pilot.id,
                                  user_id=team.lead.id)
    assert status.progress == {"Alice": 3, "Bob": 0} and not status.complete
    # Bob sees his own (empty) decisions only, never Alice's.
    bobs = service.pilot_records(session, project_id=pid, pilot_id=pilot.id,
                                 user_id=team.bob.id)
    assert [d for _, d in bobs] == [None, None, None]
    assert service.pilot_status(session, project_id=pid, pilot_id=pilot.id,
                                user_id=team.bob.id).agreement is None
    for rid, label in zip(pilot.record_ids, bob_labels, strict=True):
        service.record_pilot_decision(session, project_id=pid, pilot_id=pilot.id, record_id=rid,
                                      reviewer_id=team.bob.id, label=label)
    session.commit()
    status = service.pilot_status(session, project_id=pid, pilot_id=pilot.id,
                                  user_id=team.lead.id)
    assert status.complete
    pair = status.agreement.pairs[0].agreement
    assert pair.n == 3 and pair.table == ((1, 0), (1, 1))
    # The quota-bound screening is untouched.
    assert session.scalar(sa.select(sa.func.count()).select_from(Decision)) == 0
    assert project_counts(session, project_id=pid).screened == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(PilotDecision)) == 6


def test_decisions_change_until_closed_then_refused(session, team) -> None:
    pilot = _start(session, team, n=2)
    pid, rid = team.project.id, pilot.record_ids[0]
    kwargs = {"project_id": pid, "pilot_id": pilot.id, "record_id": rid,
              "reviewer_id": team.alice.id}
    service.record_pilot_decision(session, label="include", **kwargs)
    service.record_pilot_decision(session, label="exclude", reason_id=team.reasons[0].id,
                                  **kwargs)
    session.commit()
    mine = dict(service.pilot_records(session, project_id=pid, pilot_id=pilot.id,
                                      user_id=team.alice.id))
    decision = next(d for d in mine.values() if d is not None)
    assert decision.label == "exclude" and decision.reason_id == team.reasons[0].id
    with pytest.raises(ValidationError):
        service.record_pilot_decision(session, label="perhaps", **kwargs)
    not_in_round = next(r.id for r in team.records if r.id not in pilot.record_ids)
    with pytest.raises(NotFound):
        service.record_pilot_decision(session, project_id=pid, pilot_id=pilot.id,
                                      record_id=not_in_round, reviewer_id=team.alice.id,
                                      label="include")
    with pytest.raises(PermissionDenied):
        service.record_pilot_decision(session, label="include", **{**kwargs,
                                      "reviewer_id": team.viewer.id})
    service.close_pilot(session, project_id=pid, pilot_id=pilot.id, lead_id=team.lead.id)
    session.commit()
    with pytest.raises(ConflictError):
        service.record_pilot_decision(session, label="include", **kwargs)
    # Closed: reviewers may now see the agreement.
    assert service.pilot_status(session, project_id=pid, pilot_id=pilot.id,
                                user_id=team.bob.id).agreement is not None
