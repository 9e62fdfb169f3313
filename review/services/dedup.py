"""Deduplication in a review: run the engine, store candidate pairs, merge, decide and undo.

Groups are the connected components of the pairs whose status is "auto" or "confirmed"; every
record of a group except the kept one points at it through ``records.canonical_id``. The
canonical ids are always re-derived from the pairs (``_regroup``), so any sequence of decisions
and undos leaves the same state as the pairs it ends with. Nothing is ever deleted: a duplicate
keeps its batch (and so its source) for PRISMA's counts per source.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session

from review.db import utcnow
from review.errors import ConflictError, NotFound, ValidationError
from review.jobs import enqueue, handler
from review.models import AuditEvent, DuplicateCandidate, Job, Project, Record
from review.services.audit import log_event
from review.services.dedup_graph import (
    MERGED,
    load_dedup_records,
    local_components,
    merged_components,
    open_pending,
    regroup,
    rejected_around,
    rejected_partners,
    same_group,
)
from review.services.projects import LEAD, SCREEN, require_project
from screening.dedup import DedupRecord, Pair, find_duplicates
from screening.dedup.compare import compare_pairs
from screening.dedup.normalise import Norm, normalise, normalise_all
from screening.dedup.rules import score as engine_score

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class DedupSummary:
    """What one deduplication run did, and the project's state after it."""

    records: int  # records in the project
    compared: int  # records given to the engine (new ones plus one per existing group)
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
        new_record_ids: Records just imported: only pairs with one of them are compared, the
            others taking part as one record per existing group. None compares every record.
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
    _lock_groups(session, project_id)
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
        reasons = [r for r in _reasons(pair) if _OLD_RUN_GUARD not in r["note"]]
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
# for that reason alone is still an automatic merge here.
_OLD_RUN_GUARD = "already deduplicated in an earlier run"


def _auto(pair: Pair) -> bool:
    """Whether the engine decided the pair "auto", or would have but for its old-run rail."""
    if pair.decision == "auto":
        return True
    guards = [r.note for r in pair.reasons if r.field == "guard"]
    return bool(guards) and all(_OLD_RUN_GUARD in note for note in guards)


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
    group = [norms[m] for m in members]
    years = {n.year for n in group if n.year}
    if len({n.doi for n in group if n.doi}) > 1:
        return "would put two different DOIs in one group"
    if years and max(years) - min(years) > 1:
        return "would put years more than 1 apart in one group"
    if len({n.markers for n in group}) > 1:
        return "would merge an erratum/reply/comment with the paper it concerns"
    if len({n.cochrane for n in group if n.cochrane}) > 1:
        return "would merge different Cochrane review versions"
    return ""


def _reasons(pair: Pair) -> list[dict[str, Any]]:
    # Plain dicts for the JSON column (dataclasses.asdict deep-copies: 1 ms a pair).
    return [{"field": r.field, "similarity": r.similarity, "note": r.note} for r in pair.reasons]


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


def _lock_groups(session: Session, project_id: int) -> None:
    """Serialise the changes to a project's groups (a run, decisions, undos, flags).

    PostgreSQL: a row lock on the project that does not block inserts referencing it (NO KEY
    UPDATE); SQLite: writers already hold the database's write lock.
    """
    session.execute(sa.select(Project.id).where(Project.id == project_id)
                    .with_for_update(key_share=True))


def _candidate(session: Session, project_id: int, candidate_id: int) -> DuplicateCandidate:
    cand = session.get(DuplicateCandidate, candidate_id)
    if cand is None or cand.project_id != project_id:
        raise NotFound(f"no candidate pair {candidate_id}")
    return cand


def _state(cand: DuplicateCandidate) -> dict[str, Any]:
    return {"status": cand.status, "decided_by_id": cand.decided_by_id,
            "decided_at": cand.decided_at.isoformat() if cand.decided_at else None}


def decide_pair(
    session: Session, *, project_id: int, candidate_id: int, lead_id: int, is_duplicate: bool
) -> DuplicateCandidate:
    """A lead decides a pending (or automatic) pair: duplicate merges, not-duplicate keeps apart.

    A rejected pair is never proposed again, and no merge may later join its two records.

    Raises:
        ConflictError: The pair was decided already (undo it first), or merging it would join
            two records a lead marked as not duplicates.
    """
    require_project(session, project_id=project_id, user_id=lead_id, roles=LEAD)
    _lock_groups(session, project_id)
    cand = _candidate(session, project_id, candidate_id)
    if cand.status in ("confirmed", "rejected"):
        raise ConflictError(f"pair {cand.id} was already decided ({cand.status}); undo it first")
    a, b = cand.record_a_id, cand.record_b_id
    groups, around = local_components(session, project_id=project_id, ids=(a, b))
    if is_duplicate and cand.status == "pending" and groups.kept_apart(
            a, b, rejected_around(session, project_id=project_id, ids=around)):
        raise ConflictError("merging these would join records a lead marked as not "
                            "duplicates; undo that decision first")
    before = _state(cand)
    cand.status = "confirmed" if is_duplicate else "rejected"
    cand.decided_by_id, cand.decided_at = lead_id, utcnow()
    session.flush()
    if not is_duplicate and same_group(session, project_id=project_id, a=a, b=b):
        # A rejected pair never sits inside a group (the caller rolls back).
        raise ConflictError("these records are in one group through other pairs; undo those "
                            "merges first")
    changes = regroup(session, project_id=project_id, touched={a, b})
    log_event(session, action="dedup.decide", object_type="duplicate_candidate",
              object_id=cand.id, project_id=project_id, user_id=lead_id, before=before,
              after={**_state(cand), "canonical_changes": {str(k): v for k, v in changes.items()}})
    session.flush()
    return cand


def undo(session: Session, *, project_id: int, candidate_id: int, lead_id: int
         ) -> DuplicateCandidate:
    """Undo a pair's decision or automatic merge; the groups are re-formed from the rest.

    A decided pair returns to the state it had before the decision (pending, or an automatic
    merge); an automatic merge returns to the queue as a pending pair.

    Raises:
        ConflictError: The pair is pending: there is nothing to undo.
    """
    require_project(session, project_id=project_id, user_id=lead_id, roles=LEAD)
    _lock_groups(session, project_id)
    cand = _candidate(session, project_id, candidate_id)
    if cand.status == "pending":
        raise ConflictError(f"pair {cand.id} is pending: nothing to undo")
    before = _state(cand)
    previous: dict[str, Any] = {"status": "pending", "decided_by_id": None, "decided_at": None}
    if cand.status != "auto":
        last = session.scalar(sa.select(AuditEvent).where(
            AuditEvent.object_type == "duplicate_candidate", AuditEvent.object_id == cand.id,
            AuditEvent.action == "dedup.decide").order_by(AuditEvent.id.desc()).limit(1))
        if last is not None and last.before:
            previous = last.before
    cand.status = previous["status"]
    cand.decided_by_id = previous.get("decided_by_id")
    cand.decided_at = _parse_time(previous.get("decided_at"))
    session.flush()
    changes = regroup(session, project_id=project_id, touched={cand.record_a_id, cand.record_b_id})
    log_event(session, action="dedup.undo", object_type="duplicate_candidate", object_id=cand.id,
              project_id=project_id, user_id=lead_id, before=before,
              after={**_state(cand), "canonical_changes": {str(k): v for k, v in changes.items()}})
    session.flush()
    return cand


def _parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def bulk_accept(session: Session, *, project_id: int, lead_id: int, min_score: float) -> int:
    """Confirm every pending pair scoring at least ``min_score`` (0..1), strongest first.

    Pairs that would join records a lead kept apart are left pending. Each confirmed pair gets
    its own audit event, so each can be undone alone. Returns how many were confirmed.
    """
    require_project(session, project_id=project_id, user_id=lead_id, roles=LEAD)
    _lock_groups(session, project_id)
    if not 0.0 <= min_score <= 1.0:
        raise ValidationError("the threshold is a score between 0 and 1", field="min_score")
    pending = session.scalars(open_pending(project_id).where(
        DuplicateCandidate.score >= min_score)
        .order_by(DuplicateCandidate.score.desc(), DuplicateCandidate.id)).all()
    groups = merged_components(session, project_id=project_id)
    rejected = rejected_partners(session, project_id=project_id)
    now, accepted = utcnow(), 0
    touched: set[int] = set()
    for cand in pending:
        a, b = cand.record_a_id, cand.record_b_id
        if groups.kept_apart(a, b, rejected):
            continue
        before = _state(cand)
        groups.union(a, b)
        cand.status, cand.decided_by_id, cand.decided_at = "confirmed", lead_id, now
        touched.update((a, b))
        accepted += 1
        log_event(session, action="dedup.decide", object_type="duplicate_candidate",
                  object_id=cand.id, project_id=project_id, user_id=lead_id, before=before,
                  after={**_state(cand), "bulk_min_score": min_score})
    session.flush()
    changes = regroup(session, project_id=project_id, touched=touched)
    log_event(session, action="dedup.bulk_accept", object_type="project", object_id=project_id,
              project_id=project_id, user_id=lead_id,
              after={"min_score": min_score, "accepted": accepted,
                     "canonical_changes": {str(k): v for k, v in changes.items()}})
    session.flush()
    return accepted


def flag_duplicate(
    session: Session, *, project_id: int, record_id: int, other_record_id: int, user_id: int
) -> DuplicateCandidate:
    """A reviewer (or lead) flags two records as a possible duplicate: a pending pair.

    Raises:
        ValidationError: The two ids are the same record.
        ConflictError: The pair is already merged, or a lead marked it as not duplicates.
    """
    require_project(session, project_id=project_id, user_id=user_id, roles=SCREEN)
    _lock_groups(session, project_id)
    if record_id == other_record_id:
        raise ValidationError("a record cannot duplicate itself", field="other_record_id")
    a, b = sorted((record_id, other_record_id))
    records = load_dedup_records(session, project_id=project_id, ids=[a, b])
    if len(records) != 2:
        raise NotFound("no such record in this project")
    cand = session.scalar(sa.select(DuplicateCandidate).where(
        DuplicateCandidate.record_a_id == a, DuplicateCandidate.record_b_id == b))
    if cand is not None and cand.status in MERGED:
        raise ConflictError("these records are already merged")
    if cand is not None and cand.status == "rejected":
        raise ConflictError("a lead already decided these records are not duplicates")
    groups, _around = local_components(session, project_id=project_id, ids=(a, b))
    if cand is None and groups.find(a) == groups.find(b):
        raise ConflictError("these records are already in the same group of duplicates")
    if cand is None:
        pair_score, reasons = _score_pair(records[a], records[b])
        cand = DuplicateCandidate(project_id=project_id, record_a_id=a, record_b_id=b,
                                  score=pair_score, status="pending", reasons=reasons)
        session.add(cand)
    cand.flagged_by_id = cand.flagged_by_id or user_id
    session.flush()
    log_event(session, action="dedup.flag", object_type="duplicate_candidate", object_id=cand.id,
              project_id=project_id, user_id=user_id, after={"record_a_id": a, "record_b_id": b})
    return cand


def _score_pair(a: DedupRecord, b: DedupRecord) -> tuple[float, list[dict[str, Any]]]:
    """The engine's score and reasons for one flagged pair (its plain score if it saw none)."""
    flag = {"field": "flag", "similarity": None, "note": "flagged by a reviewer while screening"}
    result = find_duplicates([a, b], workers=1)
    if result.pairs:
        pair = result.pairs[0]
        return pair.score, [flag, *_reasons(pair)]
    features = compare_pairs([normalise(a), normalise(b)], np.array([[0, 1]]), workers=1)
    value = round(float(engine_score(features)[0]), 4)
    return value, [flag, {"field": "rule", "similarity": None,
                          "note": "the engine found too little in common to propose this pair"}]


__all__ = ["DedupSummary", "bulk_accept", "decide_pair", "dedup_new_records", "demo_step",
           "flag_duplicate", "records_since_last_run", "request_run", "run_dedup_job", "undo"]
