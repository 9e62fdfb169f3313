"""Deduplication in a review: run the engine, store candidate pairs, merge; the job and demo.

Groups are the connected components of the pairs whose status is "auto" or "confirmed"; every
record of a group except the kept one points at it through ``records.canonical_id``. The
canonical ids are always re-derived from the pairs (``dedup_graph.regroup``), so any sequence
of decisions and undos leaves the same state as the pairs it ends with. Nothing is ever
deleted: a duplicate keeps its batch (and so its source) for PRISMA's counts per source.
Leads' decisions live in ``dedup_decisions`` (re-exported here), the pages' reads in
``dedup_queue``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from review.errors import NotFound
from review.jobs import enqueue, handler
from review.models import AuditEvent, DuplicateCandidate, Job, Project, Record
from review.services.audit import log_event
from review.services.dedup_decisions import (
    bulk_accept,
    decide_pair,
    flag_duplicate,
    reasons_json,
    undo,
)
from review.services.dedup_graph import (
    load_dedup_records,
    lock_groups,
    merged_components,
    open_pending,
    regroup,
    rejected_partners,
)
from review.services.projects import LEAD, require_project
from screening.dedup import DedupRecord, Pair, find_duplicates
from screening.dedup.groups import OLD_RUN_RAIL, group_clash
from screening.dedup.normalise import Norm, normalise_all

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class DedupSummary:
    """What one deduplication run did, and the project's state after it."""

    records: int  # records in the project
    compared: int  # records given to the engine (all of them; 0 when nothing was new)
    new_records: int  # records compared as new (every record on a full run)
    auto_pairs: int  # automatic pairs stored by this run
    pending_pairs: int  # pairs stored for review by this run
    merged: int  # records this run merged into another
    duplicates: int  # records merged into another, project-wide, after the run
    pending_total: int  # pairs awaiting review, project-wide
    unique: int  # records left after deduplication
    seconds: float
    stats: dict[str, float] = field(default_factory=dict)

    def describe(self) -> str:
        """One line for job messages and the command line."""
        return (f"{self.records} records: {self.duplicates} merged as duplicates, "
                f"{self.pending_total} pairs to review, {self.unique} unique "
                f"(this run: {self.merged} merged, {self.pending_pairs} new pairs to review)")


def dedup_new_records(
    session: Session, *, project_id: int, new_record_ids: Collection[int] | None = None,
    user_id: int | None = None, progress: Progress | None = None,
) -> DedupSummary:
    """Deduplicate a project's records: new ones against all, or the whole project.

    Args:
        session: The session (flushed, not committed).
        project_id: The project.
        new_record_ids: Records just imported: only pairs with one of them are compared
            (every record takes part, so a new one meets each stored copy of its work).
            None compares every pair.
        user_id: Who asked (None for the background job and the command line).
        progress: Called with (fraction, message) between phases, before anything is
            written: a job commits its progress there, so the writes remain one transaction.

    Returns:
        The counts of this run and of the project after it.
    """
    clock = time.perf_counter()
    if session.get(Project, project_id) is None:
        raise NotFound(f"no project {project_id}")
    records = load_dedup_records(session, project_id=project_id)
    # Incremental runs pass every record too, so a new copy meets the best-matching version of
    # a work; only pairs with a new record are compared, and _store_pairs re-checks the guard
    # rails against whole existing groups (the engine sees each old record on its own).
    engine_input = list(records.values())
    if new_record_ids is None:
        new = set(records)
    else:
        new = {int(i) for i in new_record_ids} & records.keys()
    if progress:
        progress(0.1, f"{len(records)} records loaded, comparing {len(engine_input)}")
    result = find_duplicates(engine_input, new_ids=None if new_record_ids is None
                             else {str(i) for i in new}) if new else None
    if progress:
        progress(0.7, "storing pairs and groups")
    lock_groups(session, project_id)
    stored = _store_pairs(session, project_id, result.pairs if result else [], records,
                          old=set() if new_record_ids is None else records.keys() - new)
    changes = regroup(session, project_id=project_id, touched=stored.touched, details=records)
    summary = _summary(session, project_id, compared=len(engine_input) if new else 0,
                       new=len(new), stored=stored, changes=changes,
                       seconds=time.perf_counter() - clock,
                       stats=result.stats if result else {})
    log_event(session, action="dedup.run", object_type="project", object_id=project_id,
              project_id=project_id, user_id=user_id,
              after={**{k: v for k, v in asdict(summary).items() if k != "stats"},
                     "full": new_record_ids is None, "max_record_id": max(records, default=0),
                     "canonical_changes": {str(k): v for k, v in changes.items()}})
    session.flush()
    return summary


@dataclass
class _Stored:
    auto: int = 0
    pending: int = 0
    touched: set[int] = field(default_factory=set)


def _store_pairs(session: Session, project_id: int, pairs: list[Pair],
                 records: dict[int, DedupRecord], old: set[int]) -> _Stored:
    """Store the engine's pairs as candidates, applying automatic merges strongest first.

    An automatic pair is refused (stored as pending, with the guard named) when it would join
    two groups that both hold records deduplicated before, or break a guard rail over the
    whole joined group; a pair that would join two groups a lead kept apart is not stored at
    all; one question per pair of groups is enough.
    """
    existing = {(a, b): status for a, b, status in session.execute(
        sa.select(DuplicateCandidate.record_a_id, DuplicateCandidate.record_b_id,
                  DuplicateCandidate.status).where(DuplicateCandidate.project_id == project_id))}
    groups = merged_components(session, project_id=project_id)
    rejected = rejected_partners(session, project_id=project_id)
    unsure = rejected_partners(session, project_id=project_id, status="pending")
    asked = {groups.key(a, b) for (a, b), status in existing.items() if status == "pending"}
    stored = _Stored()
    norms: dict[int, Norm] = {}
    rows: list[dict[str, Any]] = []
    ordered = sorted(pairs, key=lambda p: (not _auto(p), -p.score, p.a, p.b))
    for pair in ordered:
        a, b = sorted((int(pair.a), int(pair.b)))
        if (a, b) in existing or groups.kept_apart(a, b, rejected):
            continue
        reasons = [r for r in reasons_json(pair) if OLD_RUN_RAIL not in r["note"]]
        status = "auto" if _auto(pair) else "pending"
        clash = ""
        if status == "auto" and groups.find(a) != groups.find(b):
            # Two groups from earlier runs were judged distinct, unless a pair between them
            # still awaits a lead: then the new record may settle it, as a full run would.
            apart = groups.has_any(a, old) and groups.has_any(b, old) \
                and not groups.kept_apart(a, b, unsure)
            clash = ("would join two groups deduplicated in earlier runs" if apart
                     else _group_clash(groups.group(a) | groups.group(b), records, norms))
        if clash:
            status = "pending"
            reasons.append({"field": "guard", "similarity": None,
                            "note": f"automatic merge refused: {clash}"})
        if status == "pending":
            key = groups.key(a, b)
            if groups.find(a) == groups.find(b) or key in asked:
                continue
            asked.add(key)
            stored.pending += 1
        else:
            groups.union(a, b)
            stored.auto += 1
            stored.touched.update((a, b))
        existing[(a, b)] = status
        rows.append({"project_id": project_id, "record_a_id": a, "record_b_id": b,
                     "score": pair.score, "status": status, "reasons": reasons})
    if rows:  # one multi-row insert: thousands of pairs after a large import
        session.execute(sa.insert(DuplicateCandidate), rows)
    session.flush()
    return stored


# The engine refuses to join two old records (it expects one record per existing group); this
# layer passes every record and applies that rail to whole groups itself, so a pair refused
# for that reason alone (OLD_RUN_RAIL) is still an automatic merge here.


def _auto(pair: Pair) -> bool:
    """Whether the engine decided the pair "auto", or would have but for its old-run rail."""
    if pair.decision == "auto":
        return True
    guards = [r.note for r in pair.reasons if r.field == "guard"]
    return bool(guards) and all(OLD_RUN_RAIL in note for note in guards)


def _group_clash(members: set[int], records: dict[int, DedupRecord], norms: dict[int, Norm]
                 ) -> str:
    """The guard rail a group of these members would break, or "" (the engine's rails).

    Two lone records need no check: the engine's automatic rules already exclude a pair that
    breaks a rail.
    """
    if len(members) == 2:
        return ""
    missing = [m for m in members if m not in norms]
    norms.update(zip(missing, normalise_all([records[m] for m in missing]), strict=True))
    return group_clash([norms[m] for m in members])


def _summary(session: Session, project_id: int, *, compared: int, new: int, stored: _Stored,
             changes: dict[int, list[int | None]], seconds: float,
             stats: dict[str, float]) -> DedupSummary:
    total, dupes = session.execute(
        sa.select(sa.func.count(), sa.func.count(Record.canonical_id))
        .where(Record.project_id == project_id)).one()
    pending = _count_pending(session, project_id)
    merged = sum(1 for before, after in changes.values() if before is None and after is not None)
    return DedupSummary(records=total, compared=compared, new_records=new,
                        auto_pairs=stored.auto, pending_pairs=stored.pending, merged=merged,
                        duplicates=dupes, pending_total=pending, unique=total - dupes,
                        seconds=round(seconds, 3), stats=dict(stats))


def _count_pending(session: Session, project_id: int) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(
        open_pending(project_id).subquery())) or 0


def records_since_last_run(
    session: Session, *, project_id: int, record_ids: Iterable[int] | None
) -> set[int] | None:
    """The records a job should treat as new: those named plus any added since the last run.

    None (compare everything) when the project was never deduplicated, so records imported
    before deduplication existed are compared among themselves too.
    """
    last = session.scalar(sa.select(AuditEvent).where(
        AuditEvent.project_id == project_id, AuditEvent.action == "dedup.run")
        .order_by(AuditEvent.id.desc()).limit(1))
    if last is None or not last.after:
        return None
    watermark = int(last.after.get("max_record_id", 0))
    later = session.scalars(sa.select(Record.id).where(Record.project_id == project_id,
                                                       Record.id > watermark))
    return {int(i) for i in record_ids or ()} | set(later)


@handler("dedup")
def run_dedup_job(session: Session, job: Job) -> None:
    """Background job: deduplicate after an import (params {"record_ids": [...]}) or all."""
    if job.project_id is None:
        raise ValueError("a dedup job needs a project")

    def progress(fraction: float, message: str) -> None:
        # Nothing is written before these calls, so committing here only publishes progress.
        job.progress, job.message = fraction, message
        session.commit()

    params = job.params or {}
    new = None if params.get("full") else records_since_last_run(
        session, project_id=job.project_id, record_ids=params.get("record_ids"))
    summary = dedup_new_records(session, project_id=job.project_id, new_record_ids=new,
                                user_id=params.get("user_id"), progress=progress)
    job.message = summary.describe()


def request_run(session: Session, *, project_id: int, lead_id: int) -> Job:
    """Queue a deduplication of the whole project (the "run now" button; leads only)."""
    require_project(session, project_id=project_id, user_id=lead_id, roles=LEAD)
    job = enqueue(session, kind="dedup", project_id=project_id,
                  params={"full": True, "user_id": lead_id}, debounce=True)
    log_event(session, action="dedup.request", object_type="job", object_id=job.id,
              project_id=project_id, user_id=lead_id)
    return job


def demo_step(session: Session, project: Project, users: dict[str, Any]) -> None:
    """The demo's deduplication: the whole project, run as its lead (after the import step)."""
    lead = next((u for email, u in users.items() if email.startswith("lead")), None)
    dedup_new_records(session, project_id=project.id, user_id=lead.id if lead else None)


__all__ = ["DedupSummary", "bulk_accept", "decide_pair", "dedup_new_records", "demo_step",
           "flag_duplicate", "records_since_last_run", "request_run", "run_dedup_job", "undo"]
