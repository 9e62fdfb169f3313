"""Dual screening: the next record for a reviewer, recording, revising and undoing decisions.

A record needs its quota of independent decisions per stage. Decisions are numbered by
``slot`` (1..quota) and (record, stage, slot) is unique, so two reviewers deciding at once can
never push a record past its quota: the loser of the race retries the next free slot inside a
SAVEPOINT, or is told the record is complete. Reviewers only ever see their own decisions here;
see :mod:`review.services.screening_views` for lists, progress and what a user may see.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from review.db import utcnow
from review.errors import ConflictError, NotFound, PermissionDenied, ValidationError
from review.models import (
    LABELS,
    Decision,
    ExclusionReason,
    Job,
    Membership,
    PilotRound,
    Project,
    Record,
    Resolution,
    ScreeningClaim,
)
from review.services.audit import log_event
from review.services.projects import SCREEN, require_project
from review.services.ranking import request_retrain
from review.services.screening_quota import apply_quota
from review.services.screening_rules import (
    FULL_TEXT,
    NOW_BIND,
    PROJECT_BINDS,
    REVIEWER_BIND,
    TITLE_ABSTRACT,
    bound,
    check_stage,
    database_key,
    in_stage,
    on_commit,
    queue_conditions,
    quota_value,
)
from review.services.screening_views import (
    DecisionPage,
    MyDecision,
    Progress,
    my_decisions,
    note_team_change,
    progress,
    progress_for,
    screening_reasons,
    visible_decisions,
)

__all__ = [
    "DecisionPage", "MyDecision", "Progress", "Screener", "apply_quota", "claim_next", "decide",
    "held_record", "my_decisions", "next_record", "progress", "progress_for", "queue_head",
    "record_decision", "screenable_record", "screener", "screening_reasons", "snapshot",
    "undo_last", "visible_decisions",
]

NOTE_MAX = 5000
CLAIM_TTL = timedelta(minutes=10)  # how long a shown record is held for its reader
# A queued retrain that starts later than this from now already covers a new decision.
RETRAIN_MARGIN_S = 1.0


@dataclass(frozen=True)
class Screener:
    """A member allowed to screen a project, their role, and the project's open pilot round.

    One query (see screener()). While ``pilot`` is open, the screening page pauses normal
    screening (see :mod:`review.services.screening_pilot`).
    """

    project: Project
    role: str
    user_id: int
    pilot: PilotRound | None = None


class _RecordState(NamedTuple):
    """The few columns of a record that deciding needs (not its texts)."""

    id: int
    project_id: int
    canonical_id: int | None
    auto_excluded_by_id: int | None
    quota_ta: int | None
    quota_ft: int | None


# Statements built once with bind parameters: SQLAlchemy caches their compiled form, so a
# request pays for executing them, not for building and compiling the expressions again.
_ACCESS = (sa.select(Project, Membership.role, PilotRound)
           .join(Membership, Membership.project_id == Project.id)
           .outerjoin(PilotRound, sa.and_(PilotRound.project_id == Project.id,
                                          PilotRound.closed_at.is_(None)))
           .where(Project.id == sa.bindparam("project_id"),
                  Membership.user_id == sa.bindparam("user_id"))
           .order_by(PilotRound.id.desc()).limit(1))
_RECORD_STATE = sa.select(
    Record.id, Record.project_id, Record.canonical_id, Record.auto_excluded_by_id,
    Record.quota_ta, Record.quota_ft).where(Record.id == sa.bindparam("record_id"))
_OWN = sa.select(Decision).where(
    Decision.record_id == sa.bindparam("record_id"), Decision.stage == sa.bindparam("stage"),
    Decision.reviewer_id == REVIEWER_BIND)
_SLOTS = sa.select(Decision.slot).where(
    Decision.record_id == sa.bindparam("record_id"), Decision.stage == sa.bindparam("stage"))
_DROP_CLAIM = sa.delete(ScreeningClaim).where(
    ScreeningClaim.record_id == sa.bindparam("record_id"),
    ScreeningClaim.stage == sa.bindparam("stage"), ScreeningClaim.reviewer_id == REVIEWER_BIND,
).execution_options(synchronize_session=False)
_DROP_MY_CLAIMS = sa.delete(ScreeningClaim).where(
    ScreeningClaim.reviewer_id == REVIEWER_BIND, ScreeningClaim.stage == sa.bindparam("stage"),
).execution_options(synchronize_session=False)


class _Queue(NamedTuple):
    held: Any  # the record the reviewer holds a live claim on
    one: Any  # a given record, if it is in the queue
    one_unclaimed: Any  # a given record, if it is in the queue and not read by enough others
    claimed: tuple[Any, Any]  # first ranked / unranked record not read by enough others
    open: tuple[Any, Any]  # first ranked / unranked record in the queue


@cache
def _queue(stage: str) -> _Queue:
    """The queue statements of a stage, built once (parameters: see bound())."""
    conditions = queue_conditions(PROJECT_BINDS, REVIEWER_BIND, stage)
    claimed = queue_conditions(PROJECT_BINDS, REVIEWER_BIND, stage, claims_at=NOW_BIND)

    def first(where: list[Any]) -> tuple[Any, Any]:
        # Ranked records first (index order on ix_records_screening), then unranked by id.
        base = sa.select(Record).where(*where).limit(1)
        return (base.where(Record.rank.is_not(None)).order_by(Record.rank, Record.id),
                base.where(Record.rank.is_(None)).order_by(Record.id))

    held = (sa.select(Record).join(ScreeningClaim, ScreeningClaim.record_id == Record.id)
            .where(ScreeningClaim.reviewer_id == REVIEWER_BIND, ScreeningClaim.stage == stage,
                   ScreeningClaim.expires_at > NOW_BIND, *conditions)
            .order_by(ScreeningClaim.expires_at.desc()).limit(1))
    one = sa.select(Record).where(Record.id == sa.bindparam("record_id"), *conditions)
    one_unclaimed = sa.select(Record).where(Record.id == sa.bindparam("record_id"), *claimed)
    return _Queue(held, one, one_unclaimed, first(claimed), first(conditions))


def screener(session: Session, *, project_id: int, user_id: int,
             roles: tuple[str, ...] = SCREEN) -> Screener:
    """The project, the user's role (one of ``roles``) and any open pilot round, one query.

    Non-members get NotFound (ids cannot be probed), other roles PermissionDenied, as
    :func:`review.services.projects.require_project`.
    """
    row = session.execute(_ACCESS, {"project_id": project_id, "user_id": user_id}).first()
    if row is None:
        raise NotFound(f"no project {project_id}")
    project, role, pilot = row
    if role not in roles:
        raise PermissionDenied(f"this needs the role {' or '.join(roles)}")
    return Screener(project, role, user_id, pilot)


def next_record(
    session: Session, *, project_id: int, reviewer_id: int, stage: str
) -> Record | None:
    """The reviewer's next record at ``stage``, or None when their queue is empty.

    The highest-ranked kept record (rank ascending, unranked ones after, then id) that still
    needs a decision at this stage and that the reviewer has not decided. Two indexed queries
    with LIMIT 1 (ranked records first, then unranked), never a loop over the records.
    """
    project = require_project(session, project_id=project_id, user_id=reviewer_id, roles=SCREEN)
    return queue_head(session, project=project, reviewer_id=reviewer_id, stage=stage)


def screenable_record(
    session: Session, *, project_id: int, reviewer_id: int, stage: str, record_id: int
) -> Record | None:
    """The record if it is in the reviewer's queue at ``stage`` (e.g. again after an undo)."""
    project = require_project(session, project_id=project_id, user_id=reviewer_id, roles=SCREEN)
    return queue_head(session, project=project, reviewer_id=reviewer_id, stage=stage,
                      record_id=record_id)


def queue_head(
    session: Session, *, project: Project, reviewer_id: int, stage: str,
    record_id: int | None = None,
) -> Record | None:
    """The reviewer's next record, or ``record_id`` if it is in their queue.

    The record the reviewer holds a live claim on comes first; then the highest-ranked record
    not already being read by enough others (claims), and if every open record is, the
    highest-ranked open one anyway. For callers that have already checked the reviewer may
    screen ``project`` (the web view did, with screener()); :func:`next_record` is the checked
    entry point.
    """
    check_stage(stage)
    queue = _queue(stage)
    params = bound(project, reviewer_id=reviewer_id, now=utcnow())
    if record_id is not None:
        return session.scalar(queue.one, {**params, "record_id": record_id})
    held = session.scalar(queue.held, params)
    if held is not None:
        return held
    return _unclaimed_first(session, queue, params)


def held_record(
    session: Session, *, project: Project, reviewer_id: int, stage: str
) -> Record | None:
    """The record the reviewer holds a live claim on, if it is still in their queue.

    None means a page showing the queue head should claim it first (see :func:`claim_next`):
    else reviewers who open the page at the same moment are all shown the same record.
    Same access contract as :func:`queue_head`.
    """
    check_stage(stage)
    return session.scalar(_queue(stage).held,
                          bound(project, reviewer_id=reviewer_id, now=utcnow()))


def _unclaimed_first(session: Session, queue: _Queue, params: dict[str, Any]) -> Record | None:
    # Records enough others are reading are skipped, unless every open record is.
    return _first(session, queue.claimed, params) or _first(session, queue.open, params)


def _first(session: Session, statements: tuple[Any, Any], params: dict[str, Any]
           ) -> Record | None:
    ranked, unranked = statements
    record = session.scalar(ranked, params)
    if record is None:
        record = session.scalar(unranked, params)
    return record


def claim_next(
    session: Session, *, project: Project, reviewer_id: int, stage: str,
    record_id: int | None = None, unless_claimed: bool = False,
) -> Record | None:
    """Pick the reviewer's next record (or ``record_id``) and hold it for them for a while.

    The claim makes other reviewers' queues skip a record that enough people are already
    reading, so a team working at once is not all shown the same record. Replaces the
    reviewer's earlier claims at this stage. Same access contract as :func:`queue_head`.

    Args:
        session: a writing session (the claim is written in it, not committed).
        project: the project (access already checked, see screener()).
        reviewer_id: the reviewer.
        stage: the screening stage.
        record_id: the record to hold, if it is still in the reviewer's queue.
        unless_claimed: take ``record_id`` only if enough others are not reading it by now
            (it was the queue head in an earlier read); else the next such record.
    """
    check_stage(stage)
    session.execute(_DROP_MY_CLAIMS, {"reviewer_id": reviewer_id, "stage": stage})
    queue, record = _queue(stage), None
    params = bound(project, reviewer_id=reviewer_id, now=utcnow())
    if record_id is not None:
        one = queue.one_unclaimed if unless_claimed else queue.one
        record = session.scalar(one, {**params, "record_id": record_id})
    # Its own claims are gone, so the queue head is the first record others do not fill.
    record = record or _unclaimed_first(session, queue, params)
    if record is not None:
        _hold(session, {"record_id": record.id, "stage": stage, "reviewer_id": reviewer_id,
                        "expires_at": utcnow() + CLAIM_TTL})
    return record


@cache
def _claim_insert(dialect: str) -> Any:
    """INSERT of a claim that does nothing if the reviewer holds that record already."""
    names = ("record_id", "stage", "reviewer_id", "expires_at")
    values: dict[str, Any] = {name: sa.bindparam(name) for name in names}
    if dialect == "sqlite":
        return sqlite.insert(ScreeningClaim).values(values).on_conflict_do_nothing()
    if dialect == "postgresql":
        return postgresql.insert(ScreeningClaim).values(values).on_conflict_do_nothing()
    return sa.insert(ScreeningClaim).values(values)


def _hold(session: Session, values: dict[str, Any]) -> None:
    dialect = session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        session.execute(_claim_insert(dialect), values)
        return
    try:
        with session.begin_nested():
            session.execute(_claim_insert(dialect), values)
    except IntegrityError:
        pass  # the same reviewer's other request claimed it at the same moment


def record_decision(
    session: Session, *, project_id: int, record_id: int, reviewer_id: int, stage: str,
    label: str, reason_id: int | None = None, note: str | None = None,
) -> Decision:
    """Record the reviewer's decision, or revise it if they decided this record before.

    Raises:
        NotFound: the record is not in this project.
        ValidationError: unknown stage or label, a missing or foreign exclusion reason.
        ConflictError: the record is complete (all its decisions taken), not open at this stage
            (a merged duplicate, auto-excluded, or not through title/abstract), or resolved.
    """
    project = require_project(session, project_id=project_id, user_id=reviewer_id, roles=SCREEN)
    return decide(session, project=project, record_id=record_id, reviewer_id=reviewer_id,
                  stage=stage, label=label, reason_id=reason_id, note=note)


def decide(
    session: Session, *, project: Project, record_id: int, reviewer_id: int, stage: str,
    label: str, reason_id: int | None = None, note: str | None = None,
) -> Decision:
    """:func:`record_decision` for a caller that has checked the reviewer may screen ``project``.

    The web view has (with :func:`screener`); the rules and errors are the same.
    """
    check_stage(stage)
    if label not in LABELS:
        raise ValidationError(f"the decision must be one of {', '.join(LABELS)}", field="label")
    row = session.execute(_RECORD_STATE, {"record_id": record_id}).first()
    if row is None or row.project_id != project.id:
        raise NotFound(f"no record {record_id} in this project")
    record = _RecordState(*row)
    reason_id = _check_reason(session, project, stage, label, reason_id)
    note = _clean_note(note)
    own = _own_decision(session, record_id, stage, reviewer_id)
    if own is not None:
        return _revise(session, own, label=label, reason_id=reason_id, note=note)
    _check_open(session, project, record, stage)
    # A decided record no longer needs its reader's claim (it would count twice for others).
    session.execute(_DROP_CLAIM, {"record_id": record_id, "stage": stage,
                                  "reviewer_id": reviewer_id})
    decision = _insert(session, project, record, stage, reviewer_id,
                       {"label": label, "reason_id": reason_id, "note": note})
    _queue_retrain(session, project_id=project.id, stage=stage)
    return decision


# Per database (engine pool) and (project, stage): the retrain job a committed decision of
# this process last queued or pushed back.
_RETRAIN_JOB: weakref.WeakKeyDictionary[Any, dict[tuple[int, str], int]] = (
    weakref.WeakKeyDictionary())
_JOB_STATE = sa.select(Job.status, Job.run_after).where(Job.id == sa.bindparam("job_id"))


def _queue_retrain(session: Session, *, project_id: int, stage: str) -> None:
    """Ask for a retrain after labels changed; skipped while the queued one will read them.

    request_retrain pushes the queued retrain back by its delay, which costs a jobs query and
    an update on every decision. Instead, while the retrain last queued from this process is
    still queued and due more than RETRAIN_MARGIN_S from now, it will read this decision when
    it runs, so one look at that job by its id is enough. The job is only remembered once the
    transaction commits (a rolled-back request leaves no job behind).
    """
    if stage != TITLE_ABSTRACT:
        return  # only title/abstract labels rank records
    memo = _RETRAIN_JOB.setdefault(database_key(session), {})
    key = (project_id, stage)
    job_id = memo.get(key)
    if job_id is not None:
        state = session.execute(_JOB_STATE, {"job_id": job_id}).first()
        if state is not None and state.status == "queued" and _seconds_until(
                state.run_after) > RETRAIN_MARGIN_S:
            return
    job = request_retrain(session, project_id=project_id, stage=stage)
    if job is not None and job.status == "queued":
        queued_id = job.id
        on_commit(session, lambda: memo.__setitem__(key, queued_id))


def _seconds_until(when: datetime) -> float:
    aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)  # SQLite: naive UTC
    return (aware - datetime.now(UTC)).total_seconds()


def undo_last(session: Session, *, project_id: int, reviewer_id: int, stage: str) -> int | None:
    """Remove the reviewer's most recent decision at ``stage``; returns its record id.

    Returns None when there is nothing to undo. Refused (ConflictError) once a lead has resolved
    the record, or at title/abstract once the record has full-text decisions.
    """
    project = require_project(session, project_id=project_id, user_id=reviewer_id, roles=SCREEN)
    check_stage(stage)
    decision = session.scalar(
        sa.select(Decision)
        .where(Decision.project_id == project_id, Decision.stage == stage,
               Decision.reviewer_id == reviewer_id)
        .order_by(Decision.id.desc()).limit(1))
    if decision is None:
        return None
    _check_changeable(session, decision)
    log_event(session, action="decision.undo", object_type="decision", object_id=decision.id,
              project_id=project_id, user_id=reviewer_id, before=snapshot(decision))
    record_id = decision.record_id
    record = _RecordState(*session.execute(_RECORD_STATE, {"record_id": record_id}).one())
    was_complete = len(list(session.scalars(_SLOTS, {"record_id": record_id, "stage": stage}))
                       ) >= quota_value(project, record, stage)
    session.delete(decision)
    session.flush()
    note_team_change(session, project_id=project_id, stage=stage, decisions=-1,
                     complete=-int(was_complete))
    _queue_retrain(session, project_id=project_id, stage=stage)  # a label is gone
    return record_id


def snapshot(decision: Decision) -> dict[str, Any]:
    """A decision as plain data, for the audit log."""
    return {"record_id": decision.record_id, "stage": decision.stage, "slot": decision.slot,
            "label": decision.label, "reason_id": decision.reason_id, "note": decision.note}


def _own_decision(session: Session, record_id: int, stage: str, reviewer_id: int
                  ) -> Decision | None:
    return session.scalar(_OWN, {"record_id": record_id, "stage": stage,
                                 "reviewer_id": reviewer_id})


def _check_reason(session: Session, project: Project, stage: str, label: str,
                  reason_id: int | None) -> int | None:
    # A reason only means something on an exclusion; on include/maybe it is dropped.
    if label != "exclude":
        return None
    required = stage == FULL_TEXT or project.reason_required_ta
    if reason_id is None:
        if required:
            raise ValidationError("choose an exclusion reason", field="reason_id")
        return None
    reason = session.get(ExclusionReason, reason_id)
    if reason is None or reason.project_id != project.id:
        raise ValidationError("that exclusion reason is not one of this project's",
                              field="reason_id")
    return reason_id


def _clean_note(note: str | None) -> str | None:
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise ValidationError(f"the note is longer than {NOTE_MAX} characters", field="note")
    return note or None


def _check_open(session: Session, project: Project, record: _RecordState, stage: str) -> None:
    """A new decision needs a record that is screened at this stage."""
    if record.canonical_id is not None:
        raise ConflictError("this record was merged into another (a duplicate)")
    if record.auto_excluded_by_id is not None:
        raise ConflictError("this record was excluded when screening stopped")
    if stage == FULL_TEXT:
        open_ = session.scalar(sa.select(Record.id).where(
            Record.id == record.id, *in_stage(project, FULL_TEXT)))
        if open_ is None:
            raise ConflictError("this record has not passed title/abstract screening")


def _check_changeable(session: Session, decision: Decision) -> None:
    """Revising or undoing is refused once a lead resolved it or the next stage began."""
    resolved = session.scalar(sa.select(Resolution.id).where(
        Resolution.record_id == decision.record_id, Resolution.stage == decision.stage))
    if resolved is not None:
        raise ConflictError("a lead has resolved this record; ask them to reopen it")
    if decision.stage == TITLE_ABSTRACT:
        later = session.scalar(sa.select(Decision.id).where(
            Decision.record_id == decision.record_id, Decision.stage == FULL_TEXT).limit(1))
        if later is not None:
            raise ConflictError("this record is already being screened at full text")


def _revise(session: Session, decision: Decision, *, label: str, reason_id: int | None,
            note: str | None) -> Decision:
    before = snapshot(decision)
    if (label, reason_id, note) == (decision.label, decision.reason_id, decision.note):
        return decision
    _check_changeable(session, decision)
    relabelled = label != decision.label
    decision.label, decision.reason_id, decision.note = label, reason_id, note
    decision.updated_at = utcnow()
    session.flush()
    log_event(session, action="decision.revise", object_type="decision", object_id=decision.id,
              project_id=decision.project_id, user_id=decision.reviewer_id, before=before,
              after=snapshot(decision))
    if relabelled:  # the ranking learns from labels: a changed one is a reason to retrain
        _queue_retrain(session, project_id=decision.project_id, stage=decision.stage)
    return decision


def _insert(session: Session, project: Project, record: _RecordState, stage: str,
            reviewer_id: int, values: dict[str, Any]) -> Decision:
    """Take the first free slot; on a lost race retry the next one inside a SAVEPOINT."""
    quota = quota_value(project, record, stage)
    for _attempt in range(quota + 2):
        taken = set(session.scalars(_SLOTS, {"record_id": record.id, "stage": stage}))
        free = [slot for slot in range(1, quota + 1) if slot not in taken]
        if not free:
            raise ConflictError("this record already has all its decisions")
        decision = Decision(project_id=project.id, record_id=record.id, stage=stage,
                            reviewer_id=reviewer_id, slot=free[0], **values)
        try:
            with session.begin_nested():
                session.add(decision)
        except IntegrityError:
            # Another reviewer took the slot, or this reviewer's other request got in first.
            own = _own_decision(session, record.id, stage, reviewer_id)
            if own is not None:
                return _revise(session, own, **values)
            continue
        log_event(session, action="decision.create", object_type="decision",
                  object_id=decision.id, project_id=project.id, user_id=reviewer_id,
                  after=snapshot(decision))
        note_team_change(session, project_id=project.id, stage=stage, decisions=1,
                         complete=int(len(taken) + 1 == quota))
        return decision
    raise ConflictError("this record already has all its decisions")
