"""How fresh a project's ranking is: the latest model run, labels since, retrain jobs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from review.db import utcnow
from review.models import Decision, Job, ModelRun, Resolution

STAGE = "title_abstract"


def age_s(when: datetime | None) -> float:
    """Seconds since ``when`` (naive datetimes, as SQLite returns them, are UTC)."""
    if when is None:
        return 0.0
    aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return (utcnow() - aware).total_seconds()


def latest_run(session: Session, *, project_id: int, stage: str = STAGE) -> ModelRun | None:
    """The newest model run of a project's stage."""
    return session.scalar(sa.select(ModelRun).where(
        ModelRun.project_id == project_id, ModelRun.stage == stage)
        .order_by(ModelRun.id.desc()).limit(1))


def run_ranker(run: ModelRun) -> str:
    """The ranker a model run was made with, or chosen for (protocol runs carry the choice)."""
    return str((run.params or {}).get("ranker") or run.model_name)


@dataclass(frozen=True)
class RankingStatus:
    """How fresh the ranking is, for the screening page."""

    run: ModelRun | None
    labels_since: int  # decisions and resolutions made after the run was trained
    queued: bool
    running: bool
    failed: str | None  # the message of the last retrain, if it failed

    @property
    def ranker(self) -> str | None:
        """The ranker the next retrains use (the lead's choice, kept by the model runs)."""
        return run_ranker(self.run) if self.run is not None else None

    @property
    def age(self) -> timedelta | None:
        """Time since the ranking was written."""
        return timedelta(seconds=age_s(self.run.trained_at)) if self.run else None

    @property
    def age_text(self) -> str:
        """The age in words: "just now", "5 min ago", "3 h ago", "2 days ago"."""
        if self.age is None:
            return "never"
        s = self.age.total_seconds()
        for limit, unit, div in ((60, "", 1), (3600, "min", 60), (86400, "h", 3600)):
            if s < limit:
                return "just now" if not unit else f"{int(s // div)} {unit} ago"
        return f"{int(s // 86400)} days ago"


def ranking_status(session: Session, *, project_id: int, stage: str = STAGE) -> RankingStatus:
    """The latest model run, the labels made since, and whether a retrain is on its way."""
    run = latest_run(session, project_id=project_id, stage=stage)
    since = 0
    if run is not None:
        since = (session.scalar(sa.select(sa.func.count()).select_from(Decision).where(
            Decision.project_id == project_id, Decision.stage == stage,
            Decision.updated_at > run.trained_at)) or 0) + (session.scalar(
            sa.select(sa.func.count()).select_from(Resolution).where(
                Resolution.project_id == project_id, Resolution.stage == stage,
                Resolution.created_at > run.trained_at)) or 0)
    jobs = session.execute(sa.select(Job.status, Job.message).where(
        Job.kind == "retrain", Job.project_id == project_id)
        .order_by(Job.id.desc()).limit(5)).all()
    statuses = {s for s, _ in jobs}
    failed = jobs[0][1] if jobs and jobs[0][0] == "failed" else None
    return RankingStatus(run, int(since), "queued" in statuses, "running" in statuses, failed)
