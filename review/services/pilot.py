"""Pilot rounds: N random records every reviewer screens before full screening starts.

Pilot decisions live in pilot_decisions, apart from the quota-bound decisions, so a pilot
never uses up a record's quota. The draw is seeded and the seed stored, so the same round can
be drawn again. Leads see the agreement as decisions come in; reviewers see it once the lead
closes the round (until then a figure could reveal a colleague's decision).
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from review.db import utcnow
from review.errors import ConflictError, NotFound, ValidationError
from review.models import LABELS, Membership, PilotDecision, PilotRound, Record, User
from review.services.agreement import StageAgreement, agreement_of
from review.services.audit import log_event
from review.services.conflicts import check_reason
from review.services.projects import LEAD, READ, SCREEN, require_project, role_in

MAX_PILOT = 500


@dataclass(frozen=True)
class PilotStatus:
    """Progress of a round: decisions per reviewer, whether all are done, and agreement."""

    round: PilotRound
    progress: dict[str, int]  # reviewer name -> records decided
    complete: bool
    agreement: StageAgreement | None  # None for reviewers while the round is open
    scale: str


def start_pilot(
    session: Session, *, project_id: int, lead_id: int, n: int,
    stage: str = "title_abstract", seed: int | None = None,
) -> PilotRound:
    """Draw ``n`` random unique records for a pilot round (leads; one open round at a time)."""
    require_project(session, project_id=project_id, user_id=lead_id, roles=LEAD)
    if stage not in ("title_abstract", "full_text"):
        raise ValidationError("unknown stage", field="stage")
    if open_round(session, project_id=project_id) is not None:
        raise ConflictError("a pilot round is already open; close it first")
    candidates = list(session.scalars(
        sa.select(Record.id).where(Record.project_id == project_id,
                                   Record.canonical_id.is_(None),
                                   Record.auto_excluded_by_id.is_(None))
        .order_by(Record.id)))
    if not 1 <= n <= min(len(candidates), MAX_PILOT):
        raise ValidationError(
            f"a pilot takes 1 to {min(len(candidates), MAX_PILOT)} records", field="n")
    seed = secrets.randbelow(2**31) if seed is None else seed
    record_ids = random.Random(seed).sample(candidates, n)
    pilot = PilotRound(project_id=project_id, stage=stage, record_ids=record_ids, seed=seed,
                       created_by_id=lead_id)
    session.add(pilot)
    session.flush()
    log_event(session, action="pilot.start", object_type="pilot_round", object_id=pilot.id,
              project_id=project_id, user_id=lead_id,
              after={"n": n, "seed": seed, "stage": stage, "record_ids": record_ids})
    return pilot


def open_round(session: Session, *, project_id: int) -> PilotRound | None:
    """The project's open pilot round, if any."""
    return session.scalar(sa.select(PilotRound).where(
        PilotRound.project_id == project_id, PilotRound.closed_at.is_(None)))


def rounds(session: Session, *, project_id: int, user_id: int) -> list[PilotRound]:
    """Every pilot round of the project, newest first (members)."""
    require_project(session, project_id=project_id, user_id=user_id, roles=READ)
    return list(session.scalars(sa.select(PilotRound).where(PilotRound.project_id == project_id)
                                .order_by(PilotRound.id.desc())))


def _round(session: Session, project_id: int, pilot_id: int) -> PilotRound:
    pilot = session.get(PilotRound, pilot_id)
    if pilot is None or pilot.project_id != project_id:
        raise NotFound(f"no pilot round {pilot_id}")
    return pilot


def pilot_records(
    session: Session, *, project_id: int, pilot_id: int, user_id: int
) -> list[tuple[Record, PilotDecision | None]]:
    """The round's records in draw order with the user's own pilot decision (never others')."""
    require_project(session, project_id=project_id, user_id=user_id, roles=SCREEN)
    pilot = _round(session, project_id, pilot_id)
    records = {r.id: r for r in session.scalars(
        sa.select(Record).where(Record.id.in_(pilot.record_ids)))}
    mine = {d.record_id: d for d in session.scalars(sa.select(PilotDecision).where(
        PilotDecision.pilot_id == pilot_id, PilotDecision.reviewer_id == user_id))}
    return [(records[rid], mine.get(rid)) for rid in pilot.record_ids if rid in records]


def record_pilot_decision(
    session: Session, *, project_id: int, pilot_id: int, record_id: int, reviewer_id: int,
    label: str, reason_id: int | None = None,
) -> PilotDecision:
    """A reviewer's pilot decision on one record of an open round (changeable until closed)."""
    require_project(session, project_id=project_id, user_id=reviewer_id, roles=SCREEN)
    pilot = _round(session, project_id, pilot_id)
    if pilot.closed_at is not None:
        raise ConflictError("this pilot round is closed")
    if record_id not in pilot.record_ids:
        raise NotFound(f"record {record_id} is not in this pilot round")
    if label not in LABELS:
        raise ValidationError("the decision is include, exclude or maybe", field="label")
    reason_id = reason_id if label == "exclude" else None
    check_reason(session, project_id=project_id, stage=pilot.stage, label=label,
                  reason_id=reason_id)
    decision = session.scalar(sa.select(PilotDecision).where(
        PilotDecision.pilot_id == pilot_id, PilotDecision.record_id == record_id,
        PilotDecision.reviewer_id == reviewer_id))
    before = {"label": decision.label, "reason_id": decision.reason_id} if decision else None
    if decision is None:
        decision = PilotDecision(pilot_id=pilot_id, record_id=record_id,
                                 reviewer_id=reviewer_id)
        session.add(decision)
    decision.label, decision.reason_id = label, reason_id
    session.flush()
    log_event(session, action="pilot.decide", object_type="pilot_decision",
              object_id=decision.id, project_id=project_id, user_id=reviewer_id, before=before,
              after={"pilot_id": pilot_id, "record_id": record_id, "label": label,
                     "reason_id": reason_id})
    return decision


def next_pilot_record(
    session: Session, *, pilot: PilotRound, reviewer_id: int, record_id: int | None = None
) -> tuple[Record | None, int]:
    """The reviewer's next record of the round (draw order) and how many they have decided.

    ``record_id`` is shown instead if it is one of the round's records the reviewer has not
    decided (e.g. again after an undo). None once they have decided every record. Only the
    reviewer's own pilot decisions are read. For callers that have checked the reviewer may
    screen the round's project.
    """
    decided = set(session.scalars(sa.select(PilotDecision.record_id).where(
        PilotDecision.pilot_id == pilot.id, PilotDecision.reviewer_id == reviewer_id)))
    waiting = [rid for rid in pilot.record_ids if rid not in decided]
    if record_id is not None and record_id in waiting:
        waiting.insert(0, record_id)
    for rid in waiting:
        record = session.get(Record, rid)
        if record is not None:
            return record, len(decided)
    return None, len(decided)


def undo_pilot_decision(
    session: Session, *, project_id: int, pilot_id: int, reviewer_id: int
) -> int | None:
    """Take back the reviewer's latest decision in an open round; returns its record id."""
    require_project(session, project_id=project_id, user_id=reviewer_id, roles=SCREEN)
    pilot = _round(session, project_id, pilot_id)
    if pilot.closed_at is not None:
        raise ConflictError("this pilot round is closed")
    decision = session.scalar(
        sa.select(PilotDecision)
        .where(PilotDecision.pilot_id == pilot_id, PilotDecision.reviewer_id == reviewer_id)
        .order_by(PilotDecision.id.desc()).limit(1))
    if decision is None:
        return None
    log_event(session, action="pilot.undo", object_type="pilot_decision",
              object_id=decision.id, project_id=project_id, user_id=reviewer_id,
              before={"pilot_id": pilot_id, "record_id": decision.record_id,
                      "label": decision.label, "reason_id": decision.reason_id})
    record_id = decision.record_id
    session.delete(decision)
    session.flush()
    return record_id


def pilot_status(
    session: Session, *, project_id: int, pilot_id: int, user_id: int, scale: str = "binary"
) -> PilotStatus:
    """Who has decided how much, whether everyone is done, and the agreement so far.

    Everyone expected: the project's reviewers, plus any lead who made pilot decisions.
    """
    require_project(session, project_id=project_id, user_id=user_id, roles=READ)
    pilot = _round(session, project_id, pilot_id)
    rows = session.execute(
        sa.select(PilotDecision.record_id, PilotDecision.reviewer_id, PilotDecision.label,
                  User.name)
        .join(User, User.id == PilotDecision.reviewer_id)
        .where(PilotDecision.pilot_id == pilot_id))
    ratings: dict[int, dict[int, str]] = {}
    names: dict[int, str] = {}
    for record_id, reviewer_id, label, name in rows:
        ratings.setdefault(record_id, {})[reviewer_id] = label
        names[reviewer_id] = name
    names.update({uid: name for uid, name in session.execute(
        sa.select(User.id, User.name).join(Membership, Membership.user_id == User.id)
        .where(Membership.project_id == project_id, Membership.role == "reviewer"))})
    progress = {names[rid]: sum(1 for votes in ratings.values() if rid in votes)
                for rid in sorted(names, key=lambda r: names[r])}
    complete = bool(progress) and all(n >= len(pilot.record_ids) for n in progress.values())
    may_see = (pilot.closed_at is not None
               or role_in(session, project_id=project_id, user_id=user_id) == "lead")
    agreement = (agreement_of(ratings, names, stage=pilot.stage, scale=scale)
                 if may_see else None)
    return PilotStatus(pilot, progress, complete, agreement, scale)


def close_pilot(session: Session, *, project_id: int, pilot_id: int, lead_id: int) -> PilotRound:
    """A lead closes the round; decisions stop, and everyone may see the agreement."""
    require_project(session, project_id=project_id, user_id=lead_id, roles=LEAD)
    pilot = _round(session, project_id, pilot_id)
    if pilot.closed_at is not None:
        raise ConflictError("this pilot round is closed already")
    pilot.closed_at = utcnow()
    n_decisions = session.scalar(sa.select(sa.func.count()).select_from(PilotDecision)
                                 .where(PilotDecision.pilot_id == pilot_id))
    log_event(session, action="pilot.close", object_type="pilot_round", object_id=pilot.id,
              project_id=project_id, user_id=lead_id, after={"decisions": n_decisions})
    session.flush()
    return pilot
