"""The SQL building blocks of screening: quotas, eligibility, and passing title/abstract.

Every rule about which record still needs a decision is one SQL expression here, so the next
record, the progress counts and the full-text gate agree and run as indexed queries.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from review.errors import ValidationError
from review.models import Decision, Project, Record, Resolution, ScreeningClaim

TITLE_ABSTRACT = "title_abstract"
FULL_TEXT = "full_text"
STAGES = (TITLE_ABSTRACT, FULL_TEXT)
STAGE_NAMES = {TITLE_ABSTRACT: "Title/abstract", FULL_TEXT: "Full text"}


class ProjectValues(Protocol):
    """What the SQL rules read from a project: a Project, or PROJECT_BINDS."""

    @property
    def id(self) -> Any:
        """The project id."""

    @property
    def reviewers_ta(self) -> Any:
        """Decisions a record needs at title/abstract."""

    @property
    def reviewers_ft(self) -> Any:
        """Decisions a record needs at full text."""


class RecordQuota(Protocol):
    """What quota_value reads from a record: a Record, or a row with these columns."""

    @property
    def quota_ta(self) -> int | None:
        """Drawn title/abstract quota, if any."""

    @property
    def quota_ft(self) -> int | None:
        """Drawn full-text quota, if any."""


class _ProjectBinds:
    """Bind parameters standing in for a project's values.

    Statements built with these once are reused for every project and request; SQLAlchemy
    then compiles them once and skips rebuilding the expressions per call (see bound()).
    """

    id = sa.bindparam("project_id", type_=sa.Integer())
    reviewers_ta = sa.bindparam("reviewers_ta", type_=sa.Integer())
    reviewers_ft = sa.bindparam("reviewers_ft", type_=sa.Integer())


PROJECT_BINDS = _ProjectBinds()
REVIEWER_BIND = sa.bindparam("reviewer_id", type_=sa.Integer())
NOW_BIND = sa.bindparam("now", type_=sa.DateTime(timezone=True))


def bound(project: Project, **values: Any) -> dict[str, Any]:
    """The parameters for a statement built with PROJECT_BINDS (and REVIEWER_BIND, NOW_BIND)."""
    return {"project_id": project.id, "reviewers_ta": project.reviewers_ta,
            "reviewers_ft": project.reviewers_ft, **values}


def database_key(session: Session) -> Any:
    """The session's database as a key for per-process memos (its engine's connection pool).

    Weakly referenced by the memos, so a disposed engine's entries go with it.
    """
    bind = session.get_bind()
    return bind.pool if isinstance(bind, Engine) else bind.engine.pool


_ON_COMMIT = "sieve_on_commit"


def on_commit(session: Session, fn: Callable[[], None]) -> None:
    """Call ``fn`` once the session's transaction commits; forget it if it rolls back.

    For per-process memos that must only hold what the database holds.
    """
    waiting = session.info.get(_ON_COMMIT)
    if waiting is None:
        waiting = session.info[_ON_COMMIT] = []
        sa.event.listen(session, "after_commit", _run_waiting)
        sa.event.listen(session, "after_rollback", _drop_waiting)
    waiting.append(fn)


def _run_waiting(session: Session) -> None:
    waiting = session.info.get(_ON_COMMIT) or []
    session.info[_ON_COMMIT] = []
    for fn in waiting:
        fn()


def _drop_waiting(session: Session) -> None:
    session.info[_ON_COMMIT] = []


def check_stage(stage: str) -> str:
    """The stage if it is known, else a ValidationError naming the choices."""
    if stage not in STAGES:
        raise ValidationError(f"stage must be one of {', '.join(STAGES)}", field="stage")
    return stage


def quota_of(project: ProjectValues, stage: str) -> Any:
    """SQL: the decisions a record needs at ``stage`` (its drawn quota, else the project's)."""
    if stage == TITLE_ABSTRACT:
        return sa.func.coalesce(Record.quota_ta, project.reviewers_ta)
    return sa.func.coalesce(Record.quota_ft, project.reviewers_ft)


def quota_value(project: Project, record: RecordQuota, stage: str) -> int:
    """The decisions ``record`` needs at ``stage``, in Python."""
    if stage == TITLE_ABSTRACT:
        return record.quota_ta or project.reviewers_ta
    return record.quota_ft or project.reviewers_ft


def decision_count(stage: str) -> Any:
    """SQL: how many decisions the outer record has at ``stage`` (correlated)."""
    return (sa.select(sa.func.count(Decision.id))
            .where(Decision.record_id == Record.id, Decision.stage == stage)
            .correlate(Record).scalar_subquery())


def decided_by(reviewer_id: Any, stage: str) -> Any:
    """SQL: the reviewer has decided the outer record at ``stage``."""
    return (sa.select(Decision.id)
            .where(Decision.record_id == Record.id, Decision.stage == stage,
                   Decision.reviewer_id == reviewer_id)
            .correlate(Record).exists())


def passed_title_abstract(project: ProjectValues) -> Any:
    """SQL: the outer record goes on to full text.

    Either a lead resolved it as 'include', or (unresolved) it has all its title/abstract
    decisions and none of them excludes ('maybe' counts as include).
    """
    resolution = (sa.select(Resolution.label)
                  .where(Resolution.record_id == Record.id,
                         Resolution.stage == TITLE_ABSTRACT)
                  .correlate(Record).scalar_subquery())
    any_exclude = (sa.select(Decision.id)
                   .where(Decision.record_id == Record.id, Decision.stage == TITLE_ABSTRACT,
                          Decision.label == "exclude")
                   .correlate(Record).exists())
    agreed = sa.and_(
        decision_count(TITLE_ABSTRACT) >= quota_of(project, TITLE_ABSTRACT), ~any_exclude)
    return sa.or_(resolution == "include", sa.and_(resolution.is_(None), agreed))


def in_stage(project: ProjectValues, stage: str) -> list[Any]:
    """SQL conditions: the record is screened at ``stage`` at all.

    Kept records only (not merged duplicates, not auto-excluded by a stopping rule); at full
    text, only those that passed title/abstract.
    """
    conditions = [Record.project_id == project.id, Record.canonical_id.is_(None),
                  Record.auto_excluded_by_id.is_(None)]
    if stage == FULL_TEXT:
        conditions.append(passed_title_abstract(project))
    return conditions


def needs_decision(project: ProjectValues, stage: str) -> Any:
    """SQL: the record has fewer decisions than its quota at ``stage``."""
    return decision_count(stage) < quota_of(project, stage)


def claims_by_others(reviewer_id: Any, stage: str, now: Any) -> Any:
    """SQL: live claims other reviewers hold on the outer record at ``stage`` (correlated)."""
    return (sa.select(sa.func.count(ScreeningClaim.id))
            .where(ScreeningClaim.record_id == Record.id, ScreeningClaim.stage == stage,
                   ScreeningClaim.reviewer_id != reviewer_id, ScreeningClaim.expires_at > now)
            .correlate(Record).scalar_subquery())


def queue_conditions(project: ProjectValues, reviewer_id: Any, stage: str,
                     claims_at: datetime | Any | None = None) -> list[Any]:
    """SQL conditions: the record is in the reviewer's queue at ``stage``.

    With ``claims_at``, records whose decisions plus other reviewers' live claims already make
    up the quota are left out too (they are being read by enough people).
    """
    conditions = [*in_stage(project, stage), needs_decision(project, stage),
                  ~decided_by(reviewer_id, stage)]
    if claims_at is not None:
        conditions.append(decision_count(stage) + claims_by_others(reviewer_id, stage, claims_at)
                          < quota_of(project, stage))
    return conditions
