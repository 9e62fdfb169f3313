"""Background jobs: queued in the database, run by a worker thread or a `sieve worker` process.

The queue lives in the jobs table so that any number of web processes and workers share it
(SQLite for one laptop, PostgreSQL with SKIP LOCKED for a team). A job handler is a function
``handler(session, job)`` registered under a kind; it may update ``job.progress``.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from review.db import utcnow
from review.models import Job

log = logging.getLogger(__name__)
Handler = Callable[[Session, Job], None]
HANDLERS: dict[str, Handler] = {}


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Register a job handler under ``kind``."""

    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        return fn

    return register


def enqueue(
    session: Session, *, kind: str, project_id: int | None, params: dict[str, Any] | None = None,
    delay_s: float = 0.0, debounce: bool = False,
) -> Job:
    """Queue a job to run after ``delay_s`` seconds.

    With ``debounce``, a job of the same kind and project still queued is pushed back instead
    of queueing another (one retrain after a burst of labels).
    """
    run_after = utcnow() + timedelta(seconds=delay_s)
    if debounce:
        queued = session.scalar(sa.select(Job).where(
            Job.kind == kind, Job.project_id == project_id, Job.status == "queued"))
        if queued is not None:
            queued.run_after = run_after
            queued.params = params or {}
            session.flush()
            return queued
    job = Job(kind=kind, project_id=project_id, params=params or {}, run_after=run_after)
    session.add(job)
    session.flush()
    return job


def claim_next(session: Session) -> Job | None:
    """Mark the oldest due job running and return it (commits the claim)."""
    stmt = (sa.select(Job).where(Job.status == "queued", Job.run_after <= utcnow())
            .order_by(Job.run_after, Job.id).limit(1))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    job = session.scalar(stmt)
    if job is None:
        session.rollback()
        return None
    job.status, job.started_at = "running", utcnow()
    session.commit()
    return job


def run_job(session: Session, job: Job) -> None:
    """Run one claimed job to completion; a failure is recorded on the job, not raised."""
    fn = HANDLERS.get(job.kind)
    try:
        if fn is None:
            raise LookupError(f"no handler for job kind {job.kind!r}")
        fn(session, job)
        job.status, job.progress = "done", 1.0
        session.commit()
    except Exception as exc:  # a job's failure must not kill the worker
        session.rollback()
        log.error("job %s (%s) failed:\n%s", job.id, job.kind, traceback.format_exc())
        failed = session.get(Job, job.id)
        if failed is not None:
            failed.status, failed.message = "failed", f"{type(exc).__name__}: {exc}"
    finished = session.get(Job, job.id)
    if finished is not None:
        finished.finished_at = utcnow()
    session.commit()


def run_pending(factory: sessionmaker, *, limit: int | None = None) -> int:
    """Run due jobs until none is left (or ``limit``); returns how many ran."""
    ran = 0
    while limit is None or ran < limit:
        with factory() as session:
            job = claim_next(session)
            if job is None:
                return ran
            run_job(session, job)
        ran += 1
    return ran


def project_jobs(session: Session, *, project_id: int, limit: int = 20) -> list[Job]:
    """The newest jobs of a project (for progress displays)."""
    return list(session.scalars(sa.select(Job).where(Job.project_id == project_id)
                                .order_by(Job.id.desc()).limit(limit)))


class Worker(threading.Thread):
    """A daemon thread that runs due jobs, polling every ``interval`` seconds."""

    def __init__(self, factory: sessionmaker, *, interval: float = 1.0) -> None:
        super().__init__(name="sieve-jobs", daemon=True)
        self.factory = factory
        self.interval = interval
        self.stopping = threading.Event()

    def run(self) -> None:
        """Poll until stopped."""
        while not self.stopping.is_set():
            try:
                ran = run_pending(self.factory, limit=10)
            except Exception:  # database briefly unavailable: log and keep polling
                log.exception("job worker error")
                ran = 0
            if not ran:
                self.stopping.wait(self.interval)

    def stop(self) -> None:
        """Ask the thread to finish after the current job."""
        self.stopping.set()
