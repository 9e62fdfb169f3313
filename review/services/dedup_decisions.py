"""Leads' decisions on candidate pairs, their undo, bulk acceptance and reviewers' flags.

Every function re-derives the canonical ids of the groups it touches (``regroup``) and leaves an
audit event; the caller commits, or rolls back on a raised error.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session

from review.db import utcnow
from review.errors import ConflictError, NotFound, ValidationError
from review.models import AuditEvent, DuplicateCandidate
from review.services.audit import log_event
from review.services.dedup_graph import (
    MERGED,
    load_dedup_records,
    local_components,
    lock_groups,
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
from screening.dedup.normalise import normalise
from screening.dedup.rules import score as engine_score


def reasons_json(pair: Pair) -> list[dict[str, Any]]:
    """A pair's reasons as plain dicts for the JSON column (asdict deep-copies: slow)."""
    return [{"field": r.field, "similarity": r.similarity, "note": r.note} for r in pair.reasons]


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
    lock_groups(session, project_id)
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
    lock_groups(session, project_id)
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
    lock_groups(session, project_id)
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
    lock_groups(session, project_id)
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
        return pair.score, [flag, *reasons_json(pair)]
    features = compare_pairs([normalise(a), normalise(b)], np.array([[0, 1]]), workers=1)
    value = round(float(engine_score(features)[0]), 4)
    return value, [flag, {"field": "rule", "similarity": None,
                          "note": "the engine found too little in common to propose this pair"}]
