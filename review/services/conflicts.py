"""Conflicts between reviewers: where each record stands, the leads' queue, resolutions.

A record's standing at a stage comes from :func:`screening.conflicts.outcome` over its current
decisions, its quota and any resolution; the dashboard counts use :func:`stage_outcomes` too,
so "conflict" and "included" mean the same on every page.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from review.errors import ConflictError, NotFound, ValidationError
from review.models import STAGES, Decision, ExclusionReason, Project, Record, Resolution, User
from review.services.audit import log_event
from review.services.projects import LEAD, SCREEN, require_project
from review.services.ranking import request_retrain
from screening.conflicts import CONFLICT, Outcome, Tally, outcome_of

RESOLUTION_LABELS = ("include", "exclude")


@dataclass(frozen=True)
class DecisionView:
    """One reviewer's decision as a lead sees it in the queue."""

    reviewer_id: int
    reviewer: str
    label: str
    reason: str | None
    note: str | None
    decided_at: datetime


@dataclass(frozen=True)
class ConflictItem:
    """A record in conflict (or resolved) with every decision and any resolution."""

    record: Record
    stage: str
    decisions: list[DecisionView]
    resolution: Resolution | None = None
    lead: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class MyOutcome:
    """What became of one of a reviewer's own decisions that a lead resolved."""

    record: Record
    stage: str
    my_label: str
    final_label: str
    reason: str | None
    note: str | None
    lead: str
    resolved_at: datetime

    @property
    def agreed(self) -> bool:
        """The reviewer's decision fell on the side the lead chose (maybe counts as include)."""
        return (self.my_label == "exclude") == (self.final_label == "exclude")


def _check_stage(stage: str) -> None:
    if stage not in STAGES:
        raise ValidationError(f"stage must be one of {', '.join(STAGES)}", field="stage")


def stage_outcomes(
    session: Session, *, project_id: int, stage: str, record_id: int | None = None
) -> dict[int, Outcome]:
    """Every non-duplicate record with a decision or a resolution at ``stage`` -> its outcome.

    Quota: the record's own drawn quota, else the project's reviewers per record. The
    database tallies each record's decisions (one GROUP BY); the rule itself is applied by
    :func:`screening.conflicts.outcome_of`. With ``record_id``, only that record.
    """
    _check_stage(stage)
    project = session.get(Project, project_id)
    if project is None:
        raise NotFound(f"no project {project_id}")
    only = [Record.id == record_id] if record_id is not None else []
    default_quota = project.reviewers_ta if stage == "title_abstract" else project.reviewers_ft
    quota_col = Record.quota_ta if stage == "title_abstract" else Record.quota_ft
    is_exclude = Decision.label == "exclude"
    rows = session.execute(
        sa.select(Decision.record_id, quota_col, sa.func.count(),
                  sa.func.sum(sa.case((is_exclude, 1), else_=0)),
                  # A missing reason counts as a reason of its own (-1 is no real id).
                  sa.func.count(sa.distinct(sa.case(
                      (is_exclude, sa.func.coalesce(Decision.reason_id, -1))))))
        .join(Record, Record.id == Decision.record_id)
        .where(Decision.project_id == project_id, Decision.stage == stage,
               Record.canonical_id.is_(None), *only)
        .group_by(Decision.record_id, quota_col)
    ).all()
    resolved = {record_id: label for record_id, label in session.execute(
        sa.select(Resolution.record_id, Resolution.label)
        .join(Record, Record.id == Resolution.record_id)
        .where(Resolution.project_id == project_id, Resolution.stage == stage,
               Record.canonical_id.is_(None), *only))}
    by_reason = project.conflict_on_reason_ft
    outcomes = {
        record_id: outcome_of(Tally(n, int(n_ex or 0), reasons), quota=quota or default_quota,
                              stage=stage, conflict_on_reason_ft=by_reason,
                              resolution=resolved.get(record_id))
        for record_id, quota, n, n_ex, reasons in rows
    }
    for record_id, label in resolved.items():
        if record_id not in outcomes:  # resolved, then every decision taken back
            outcomes[record_id] = outcome_of(Tally(0, 0, 0), quota=default_quota, stage=stage,
                                             resolution=label)
    return outcomes


def included_record_ids(session: Session, *, project_id: int, stage: str) -> list[int]:
    """Records that pass ``stage`` (agreed include, maybe counting as include, or resolved)."""
    outcomes = stage_outcomes(session, project_id=project_id, stage=stage)
    return sorted(rid for rid, out in outcomes.items() if out.included)


def conflict_queue(
    session: Session, *, project_id: int, user_id: int, stage: str, limit: int | None = None
) -> list[ConflictItem]:
    """The unresolved conflicts of a stage, best-ranked first, with every decision (leads).

    ``limit`` keeps the first conflicts only (a page of the queue).
    """
    require_project(session, project_id=project_id, user_id=user_id, roles=LEAD)
    outcomes = stage_outcomes(session, project_id=project_id, stage=stage)
    ids = [rid for rid, out in outcomes.items() if out.status == CONFLICT]
    if limit is not None:
        ranks = dict(session.execute(sa.select(Record.id, Record.rank)
                                     .where(Record.id.in_(ids))).all()) if ids else {}
        ids = sorted(ids, key=lambda rid: (ranks.get(rid) is None, ranks.get(rid) or 0,
                                           rid))[:limit]
    return _items(session, project_id=project_id, stage=stage, record_ids=ids)


def resolved_conflicts(
    session: Session, *, project_id: int, user_id: int, stage: str
) -> list[ConflictItem]:
    """The resolutions of a stage, newest first, with the decisions they settled (leads)."""
    require_project(session, project_id=project_id, user_id=user_id, roles=LEAD)
    _check_stage(stage)
    ids = list(session.scalars(
        sa.select(Resolution.record_id)
        .where(Resolution.project_id == project_id, Resolution.stage == stage)
        .order_by(Resolution.created_at.desc(), Resolution.id.desc())))
    items = {item.record.id: item for item in
             _items(session, project_id=project_id, stage=stage, record_ids=ids)}
    return [items[rid] for rid in ids if rid in items]


def conflict_item(
    session: Session, *, project_id: int, user_id: int, record_id: int, stage: str
) -> ConflictItem:
    """One record's decisions and resolution at a stage (leads); NotFound if not in project."""
    require_project(session, project_id=project_id, user_id=user_id, roles=LEAD)
    _check_stage(stage)
    items = _items(session, project_id=project_id, stage=stage, record_ids=[record_id])
    if not items:
        raise NotFound(f"no record {record_id}")
    return items[0]


def _items(
    session: Session, *, project_id: int, stage: str, record_ids: list[int]
) -> list[ConflictItem]:
    if not record_ids:
        return []
    records = list(session.scalars(
        sa.select(Record).where(Record.project_id == project_id, Record.id.in_(record_ids))
        .order_by(Record.rank.is_(None), Record.rank, Record.id)))
    reason_names = dict(session.execute(
        sa.select(ExclusionReason.id, ExclusionReason.label)
        .where(ExclusionReason.project_id == project_id)).all())
    decisions: dict[int, list[DecisionView]] = defaultdict(list)
    for d, name in session.execute(
        sa.select(Decision, User.name).join(User, User.id == Decision.reviewer_id)
        .where(Decision.record_id.in_(record_ids), Decision.stage == stage)
        .order_by(Decision.slot)
    ):
        decisions[d.record_id].append(DecisionView(
            d.reviewer_id, name, d.label, reason_names.get(d.reason_id) if d.reason_id else None,
            d.note, d.updated_at))
    resolutions = {r.record_id: (r, name) for r, name in session.execute(
        sa.select(Resolution, User.name).join(User, User.id == Resolution.lead_id)
        .where(Resolution.record_id.in_(record_ids), Resolution.stage == stage))}
    items = []
    for record in records:
        resolution, lead = resolutions.get(record.id, (None, None))
        reason = (reason_names.get(resolution.reason_id)
                  if resolution is not None and resolution.reason_id else None)
        items.append(ConflictItem(record, stage, decisions[record.id], resolution, lead, reason))
    return items


def resolve(
    session: Session,
    *,
    project_id: int,
    record_id: int,
    stage: str,
    lead_id: int,
    label: str,
    reason_id: int | None = None,
    note: str | None = None,
) -> Resolution:
    """A lead settles a conflict with a final include or exclude, a reason and a note.

    Raises:
        ValidationError: bad label, stage or reason (an exclusion at full text needs one).
        ConflictError: the record is not in conflict (agreed, pending or already resolved).
    """
    require_project(session, project_id=project_id, user_id=lead_id, roles=LEAD)
    _check_stage(stage)
    if label not in RESOLUTION_LABELS:
        raise ValidationError("the final decision is include or exclude", field="label")
    check_reason(session, project_id=project_id, stage=stage, label=label, reason_id=reason_id)
    record = session.get(Record, record_id)
    if record is None or record.project_id != project_id:
        raise NotFound(f"no record {record_id}")
    status = stage_outcomes(session, project_id=project_id, stage=stage,
                            record_id=record_id).get(record_id)
    if status is None or status.status != CONFLICT:
        state = status.status if status else "not screened"
        raise ConflictError(f"record {record_id} is not an open conflict ({state})")
    resolution = Resolution(project_id=project_id, record_id=record_id, stage=stage,
                            lead_id=lead_id, label=label,
                            reason_id=reason_id if label == "exclude" else None,
                            note=(note or "").strip() or None)
    try:
        with session.begin_nested():
            session.add(resolution)
    except IntegrityError as exc:  # another lead resolved it a moment ago
        raise ConflictError(f"record {record_id} was resolved already") from exc
    log_event(session, action="conflict.resolve", object_type="record", object_id=record_id,
              project_id=project_id, user_id=lead_id, after=_snapshot(resolution))
    session.flush()
    request_retrain(session, project_id=project_id, stage=stage)  # the label changed
    return resolution


def check_reason(
    session: Session, *, project_id: int, stage: str, label: str, reason_id: int | None
) -> None:
    """Check an exclusion reason: one of the project's, and given for exclusions at full text.

    Raises:
        ValidationError: a missing or foreign reason.
    """
    if label == "exclude" and stage == "full_text" and reason_id is None:
        raise ValidationError("an exclusion at full text needs a reason", field="reason_id")
    if reason_id is None:
        return
    owner = session.scalar(sa.select(ExclusionReason.project_id)
                           .where(ExclusionReason.id == reason_id))
    if owner != project_id:
        raise ValidationError("unknown exclusion reason", field="reason_id")


def _snapshot(resolution: Resolution) -> dict[str, object]:
    return {"stage": resolution.stage, "label": resolution.label,
            "reason_id": resolution.reason_id, "note": resolution.note,
            "lead_id": resolution.lead_id}


def unresolve(
    session: Session, *, project_id: int, record_id: int, stage: str, lead_id: int
) -> None:
    """A lead reverses a resolution; the conflict goes back to the queue (audited)."""
    require_project(session, project_id=project_id, user_id=lead_id, roles=LEAD)
    _check_stage(stage)
    resolution = session.scalar(sa.select(Resolution).where(
        Resolution.project_id == project_id, Resolution.record_id == record_id,
        Resolution.stage == stage))
    if resolution is None:
        raise NotFound(f"record {record_id} has no resolution at {stage}")
    before = _snapshot(resolution)
    session.delete(resolution)
    log_event(session, action="conflict.unresolve", object_type="record", object_id=record_id,
              project_id=project_id, user_id=lead_id, before=before)
    session.flush()
    request_retrain(session, project_id=project_id, stage=stage)


def my_resolved(session: Session, *, project_id: int, user_id: int) -> list[MyOutcome]:
    """The outcome of the reviewer's own resolved conflicts, newest first, to calibrate.

    Shows the reviewer's own decision beside the lead's; never another reviewer's decision.
    """
    require_project(session, project_id=project_id, user_id=user_id, roles=SCREEN)
    reason = aliased(ExclusionReason)
    rows = session.execute(
        sa.select(Record, Decision.label, Resolution, reason.label, User.name)
        .join(Decision, Decision.record_id == Record.id)
        .join(Resolution, sa.and_(Resolution.record_id == Record.id,
                                  Resolution.stage == Decision.stage))
        .join(User, User.id == Resolution.lead_id)
        .outerjoin(reason, reason.id == Resolution.reason_id)
        .where(Decision.project_id == project_id, Decision.reviewer_id == user_id)
        .order_by(Resolution.created_at.desc(), Resolution.id.desc())
    )
    return [MyOutcome(record, res.stage, mine, res.label, reason_label, res.note, lead,
                      res.created_at)
            for record, mine, res, reason_label, lead in rows]


def conflict_counts(session: Session, *, project_id: int) -> dict[str, int]:
    """Open conflicts per stage."""
    return {stage: sum(1 for out in stage_outcomes(session, project_id=project_id,
                                                   stage=stage).values()
                       if out.status == CONFLICT)
            for stage in STAGES}
