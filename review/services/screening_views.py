"""What a screener sees: their own decisions, progress counts, and blinded record decisions.

Blinding lives here, in the service layer: a reviewer gets their own decisions, and other
people's only on records that have all their decisions; leads see everything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from review.models import Decision, ExclusionReason, Project, Record
from review.services.projects import READ, SCREEN, require_project, role_in
from review.services.screening_rules import (
    check_stage,
    decision_count,
    in_stage,
    quota_of,
    quota_value,
)

PER_PAGE = 25


@dataclass(frozen=True)
class Progress:
    """Where screening stands at a stage, for one reviewer and for the team."""

    stage: str
    mine: int  # decisions this reviewer made at the stage
    my_remaining: int  # records still in this reviewer's queue
    team_decisions: int  # decisions made by everyone
    complete: int  # records with all their decisions
    total: int  # records screened at this stage

    @property
    def percent(self) -> int:
        """Share of records with all their decisions, in whole percent."""
        return math.floor(100 * self.complete / self.total) if self.total else 0


@dataclass(frozen=True)
class MyDecision:
    """One of the reviewer's own decisions with its record and reason label."""

    decision: Decision
    record: Record
    reason: str | None


@dataclass(frozen=True)
class DecisionPage:
    """A page of a reviewer's own decisions."""

    items: list[MyDecision]
    total: int
    page: int
    pages: int
    query: str


def progress(session: Session, *, project_id: int, reviewer_id: int, stage: str) -> Progress:
    """Counts for the screening page: mine, my queue, and the team's (no one's labels).

    One pass over the records of the stage on the covering index ix_records_screening, with
    one probe per record into the decisions index; my own decisions are counted apart.
    """
    project = require_project(session, project_id=project_id, user_id=reviewer_id, roles=READ)
    return progress_for(session, project=project, reviewer_id=reviewer_id, stage=stage)


def progress_for(session: Session, *, project: Project, reviewer_id: int, stage: str
                 ) -> Progress:
    """:func:`progress` for a project the caller has already checked the user may read."""
    check_stage(stage)
    project_id = project.id
    full = decision_count(stage) >= quota_of(project, stage)
    total, complete = session.execute(
        sa.select(sa.func.count(Record.id), sa.func.sum(sa.case((full, 1), else_=0)))
        .where(*in_stage(project, stage))).one()
    mine_base = sa.select(sa.func.count(Decision.id)).where(
        Decision.project_id == project_id, Decision.stage == stage)
    team = session.scalar(mine_base) or 0
    mine_base = mine_base.where(Decision.reviewer_id == reviewer_id)
    mine = session.scalar(mine_base) or 0
    # My decisions on records that still wait for someone else: not in my queue, not complete.
    mine_open = session.scalar(mine_base.join(Record, Record.id == Decision.record_id)
                               .where(*in_stage(project, stage), ~full)) or 0
    complete = int(complete or 0)
    return Progress(stage=stage, mine=mine, my_remaining=(total or 0) - complete - mine_open,
                    team_decisions=team, complete=complete, total=total or 0)


def my_decisions(
    session: Session, *, project_id: int, reviewer_id: int, stage: str,
    query: str | None = None, page: int = 1,
) -> DecisionPage:
    """The reviewer's own decisions at ``stage``, newest change first, searchable.

    ``query`` matches the record's title, abstract or journal, or the reviewer's note. Only
    the reviewer's own decisions are ever returned.
    """
    require_project(session, project_id=project_id, user_id=reviewer_id, roles=SCREEN)
    check_stage(stage)
    query = (query or "").strip()
    conditions = [Decision.project_id == project_id, Decision.stage == stage,
                  Decision.reviewer_id == reviewer_id]
    if query:
        conditions.append(sa.or_(*(column.icontains(query, autoescape=True) for column in (
            Record.title, Record.abstract, Record.journal, Decision.note))))
    base = sa.select(Decision, Record, ExclusionReason.label).join(
        Record, Record.id == Decision.record_id).outerjoin(
        ExclusionReason, ExclusionReason.id == Decision.reason_id).where(*conditions)
    total = session.scalar(sa.select(sa.func.count()).select_from(base.subquery())) or 0
    pages = max(1, math.ceil(total / PER_PAGE))
    page = min(max(1, page), pages)
    rows = session.execute(base.order_by(Decision.updated_at.desc(), Decision.id.desc())
                           .offset((page - 1) * PER_PAGE).limit(PER_PAGE))
    items = [MyDecision(decision, record, reason) for decision, record, reason in rows]
    return DecisionPage(items=items, total=total, page=page, pages=pages, query=query)


def visible_decisions(
    session: Session, *, project_id: int, record_id: int, user_id: int, stage: str
) -> list[Decision]:
    """The decisions on a record this user may see.

    Leads see all of them. Everyone else sees their own, and other people's only once the
    record has all its decisions at that stage (blinding).
    """
    project = require_project(session, project_id=project_id, user_id=user_id, roles=READ)
    check_stage(stage)
    record = session.get(Record, record_id)
    if record is None or record.project_id != project_id:
        return []
    decisions = list(session.scalars(sa.select(Decision).where(
        Decision.record_id == record_id, Decision.stage == stage).order_by(Decision.slot)))
    if role_in(session, project_id=project_id, user_id=user_id) == "lead":
        return decisions
    if len(decisions) >= quota_value(project, record, stage):
        return decisions
    return [d for d in decisions if d.reviewer_id == user_id]
