"""What a screener sees: their own decisions, progress counts, and blinded record decisions.

Blinding lives here, in the service layer: a reviewer gets their own decisions, and other
people's only on records that have all their decisions; leads see everything.
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from dataclasses import dataclass
from functools import cache
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import Session

from review.models import Decision, ExclusionReason, Project, Record
from review.services.projects import READ, SCREEN, require_project, role_in
from review.services.screening_rules import (
    PROJECT_BINDS,
    REVIEWER_BIND,
    bound,
    check_stage,
    database_key,
    decision_count,
    in_stage,
    on_commit,
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
    """Counts for the screening page: mine, my queue, and the team's (no one's labels)."""
    project = require_project(session, project_id=project_id, user_id=reviewer_id, roles=READ)
    return progress_for(session, project=project, reviewer_id=reviewer_id, stage=stage)


class _ProgressStatements(NamedTuple):
    team_records: Any  # records at the stage, and those with all their decisions
    team_decisions: Any  # decisions by everyone
    mine: Any  # my decisions, and those on records still waiting for someone else


@cache
def _progress_statements(stage: str) -> _ProgressStatements:
    """The progress queries of a stage, built once (parameters: see bound())."""
    full = decision_count(stage) >= quota_of(PROJECT_BINDS, stage)
    team_records = (sa.select(sa.func.count(Record.id), sa.func.sum(sa.case((full, 1), else_=0)))
                    .where(*in_stage(PROJECT_BINDS, stage)))
    team_decisions = sa.select(sa.func.count(Decision.id)).where(
        Decision.project_id == PROJECT_BINDS.id, Decision.stage == stage)
    waiting = sa.and_(*in_stage(PROJECT_BINDS, stage), ~full)
    mine = (sa.select(sa.func.count(Decision.id), sa.func.sum(sa.case((waiting, 1), else_=0)))
            .select_from(Decision).join(Record, Record.id == Decision.record_id)
            .where(Decision.project_id == PROJECT_BINDS.id, Decision.stage == stage,
                   Decision.reviewer_id == REVIEWER_BIND))
    return _ProgressStatements(team_records, team_decisions, mine)


class _Team(NamedTuple):
    at: float  # time.monotonic() when the count began
    total: int
    complete: int
    decisions: int


# Team counts per database (engine pool), project and stage; see progress_for(max_age=...).
_TEAM: weakref.WeakKeyDictionary[Any, dict[tuple[int, str], _Team]] = weakref.WeakKeyDictionary()
_TEAM_LOCK = threading.Lock()


def note_team_change(session: Session, *, project_id: int, stage: str, decisions: int,
                     complete: int) -> None:
    """Once the transaction commits, add this change to the team counts this process keeps.

    Decisions made through this process then show at once in the kept counts; changes made
    elsewhere (other processes, imports, merges, resolutions) show when they are counted
    again. A count that began after the commit already holds the change and is left alone.
    """
    pool, key = database_key(session), (project_id, stage)

    def apply() -> None:
        committed = time.monotonic()
        with _TEAM_LOCK:
            kept = _TEAM.get(pool, {}).get(key)
            if kept is not None and kept.at < committed:
                _TEAM[pool][key] = kept._replace(complete=kept.complete + complete,
                                                 decisions=kept.decisions + decisions)

    on_commit(session, apply)


def progress_for(session: Session, *, project: Project, reviewer_id: int, stage: str,
                 team_max_age: float = 0.0) -> Progress:
    """:func:`progress` for a project the caller has already checked the user may read.

    The team's counts (records complete, decisions) pass over every record of the stage, a
    cost that grows with the project; with ``team_max_age`` seconds they may come from a
    count this process made that recently (the screening page shows them on every record),
    kept up to date with the decisions made through this process (note_team_change). The
    reviewer's own counts are always counted afresh: one pass over their decisions.
    """
    check_stage(stage)
    statements = _progress_statements(stage)
    params = bound(project, reviewer_id=reviewer_id)
    team = _team_counts(session, statements, params, stage, team_max_age)
    mine, mine_open = session.execute(statements.mine, params).one()
    mine_open = int(mine_open or 0)
    return Progress(stage=stage, mine=mine or 0,
                    my_remaining=max(0, team.total - team.complete - mine_open),
                    team_decisions=team.decisions, complete=team.complete, total=team.total)


def _team_counts(session: Session, statements: _ProgressStatements, params: dict[str, Any],
                 stage: str, max_age: float) -> _Team:
    key = (params["project_id"], stage)
    pool = database_key(session)
    if max_age > 0:
        with _TEAM_LOCK:
            known = _TEAM.get(pool, {}).get(key)
        if known is not None and time.monotonic() - known.at <= max_age:
            return known
    began = time.monotonic()
    total, complete = session.execute(statements.team_records, params).one()
    decisions = session.scalar(statements.team_decisions, params) or 0
    team = _Team(began, total or 0, int(complete or 0), decisions)
    with _TEAM_LOCK:
        _TEAM.setdefault(pool, {})[key] = team
    return team


_REASONS = (sa.select(ExclusionReason)
            .where(ExclusionReason.project_id == sa.bindparam("project_id"),
                   ExclusionReason.active.is_(True))
            .order_by(ExclusionReason.position))


def screening_reasons(session: Session, *, project_id: int) -> list[ExclusionReason]:
    """The project's exclusion reasons in their order (a statement built once, for every page)."""
    return list(session.scalars(_REASONS, {"project_id": project_id}))


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
