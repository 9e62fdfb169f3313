"""Reading deduplication state: PRISMA counts, the review queue, merged groups, file runs."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

import importers
from review.models import Decision, DuplicateCandidate, ImportBatch, Job, Record, Source
from review.services.dedup_graph import MERGED, merged_components, open_pending
from review.services.projects import READ, require_project
from screening.dedup import DedupRecord, dedup_rows

NO_SOURCE = "(no source)"


@dataclass(frozen=True)
class SourceCount:
    """Records one source brought, and how many of them were merged into another record."""

    name: str
    kind: str
    records: int
    duplicates_removed: int


@dataclass(frozen=True)
class DedupCounts:
    """What PRISMA 2020 needs from deduplication, and the queue's size."""

    records: int
    duplicates_removed: int
    unique: int
    pending_pairs: int
    groups: int
    per_source: list[SourceCount]


def dedup_counts(session: Session, *, project_id: int) -> DedupCounts:
    """Records, duplicates removed, pending pairs and groups, with records per source."""
    rows = session.execute(
        sa.select(Source.name, Source.kind, sa.func.count(Record.id),
                  sa.func.count(Record.canonical_id))
        .select_from(Record)
        .outerjoin(ImportBatch, ImportBatch.id == Record.batch_id)
        .outerjoin(Source, Source.id == ImportBatch.source_id)
        .where(Record.project_id == project_id)
        .group_by(Source.name, Source.kind).order_by(Source.name)).all()
    per_source = [SourceCount(name or NO_SOURCE, kind or "other", n, d)
                  for name, kind, n, d in rows]
    total = sum(s.records for s in per_source)
    removed = sum(s.duplicates_removed for s in per_source)
    pending = session.scalar(sa.select(sa.func.count()).select_from(
        open_pending(project_id).subquery())) or 0
    groups = session.scalar(sa.select(sa.func.count(sa.distinct(Record.canonical_id))).where(
        Record.project_id == project_id)) or 0
    return DedupCounts(records=total, duplicates_removed=removed, unique=total - removed,
                       pending_pairs=pending, groups=groups, per_source=per_source)


@dataclass(frozen=True)
class Side:
    """One record of a pair as the queue shows it."""

    record: Record
    source: str
    filename: str | None
    screened: bool


@dataclass(frozen=True)
class PairView:
    """A candidate pair with both records, for the side-by-side view."""

    candidate: DuplicateCandidate
    a: Side
    b: Side


def _sides(session: Session, ids: list[int]) -> dict[int, Side]:
    screened = sa.exists().where(Decision.record_id == Record.id)
    stmt = (sa.select(Record, Source.name, ImportBatch.filename, screened.label("screened"))
            .outerjoin(ImportBatch, ImportBatch.id == Record.batch_id)
            .outerjoin(Source, Source.id == ImportBatch.source_id)
            .where(Record.id.in_(ids)))
    return {rec.id: Side(rec, name or NO_SOURCE, filename, bool(done))
            for rec, name, filename, done in session.execute(stmt)}


def _views(session: Session, cands: list[DuplicateCandidate]) -> list[PairView]:
    sides = _sides(session, sorted({i for c in cands for i in (c.record_a_id, c.record_b_id)}))
    return [PairView(c, sides[c.record_a_id], sides[c.record_b_id]) for c in cands]


def pending_queue(
    session: Session, *, project_id: int, user_id: int, offset: int = 0, limit: int = 1
) -> tuple[list[PairView], int]:
    """Pending pairs, strongest first, from ``offset``; and how many are pending."""
    require_project(session, project_id=project_id, user_id=user_id, roles=READ)
    total = session.scalar(sa.select(sa.func.count()).select_from(
        open_pending(project_id).subquery())) or 0
    cands = list(session.scalars(open_pending(project_id)
                                 .order_by(DuplicateCandidate.score.desc(), DuplicateCandidate.id)
                                 .offset(max(0, offset)).limit(limit)))
    return _views(session, cands), total


def recent_decisions(session: Session, *, project_id: int, limit: int = 5) -> list[PairView]:
    """The pairs decided last (newest first), for undo."""
    cands = list(session.scalars(sa.select(DuplicateCandidate).where(
        DuplicateCandidate.project_id == project_id, DuplicateCandidate.decided_at.is_not(None))
        .order_by(DuplicateCandidate.decided_at.desc(), DuplicateCandidate.id.desc())
        .limit(limit)))
    return _views(session, cands)


def score_bands(session: Session, *, project_id: int,
                cuts: tuple[float, ...] = (0.95, 0.9, 0.8, 0.7)) -> list[tuple[float, int]]:
    """How many pending pairs score at least each cut (to choose a bulk-accept threshold)."""
    scores = [c.score for c in session.scalars(open_pending(project_id))]
    return [(cut, sum(1 for s in scores if s >= cut)) for cut in cuts]


@dataclass(frozen=True)
class GroupView:
    """A merged group: the kept record, the others, and the pairs that join them."""

    kept: Side
    duplicates: list[Side]
    pairs: list[DuplicateCandidate]


def merged_groups(
    session: Session, *, project_id: int, user_id: int, page: int = 1, per_page: int = 50
) -> tuple[list[GroupView], int]:
    """One page of merged groups (largest first) and how many groups there are."""
    require_project(session, project_id=project_id, user_id=user_id, roles=READ)
    groups = merged_components(session, project_id=project_id)
    roots = sorted(groups.members, key=lambda r: (-len(groups.members[r]), min(groups.members[r])))
    chosen = roots[(max(page, 1) - 1) * per_page:max(page, 1) * per_page]
    ids = sorted(m for r in chosen for m in groups.members[r])
    sides = _sides(session, ids) if ids else {}
    pairs = list(session.scalars(sa.select(DuplicateCandidate).where(
        DuplicateCandidate.project_id == project_id, DuplicateCandidate.status.in_(MERGED),
        DuplicateCandidate.record_a_id.in_(ids)))) if ids else []
    views = []
    for root in chosen:
        members = groups.members[root]
        kept = next((m for m in members if sides[m].record.canonical_id is None), min(members))
        views.append(GroupView(
            kept=sides[kept], duplicates=[sides[m] for m in sorted(members) if m != kept],
            pairs=sorted((p for p in pairs if p.record_a_id in members),
                         key=lambda p: -p.score)))
    return views, len(roots)


def search_records(
    session: Session, *, project_id: int, user_id: int, query: str, exclude_id: int | None = None,
    limit: int = 10,
) -> list[Record]:
    """Records matching a DOI exactly or a title fragment (for flagging a duplicate)."""
    require_project(session, project_id=project_id, user_id=user_id, roles=READ)
    text = query.strip()
    if not text:
        return []
    doi = text.lower().removeprefix("https://doi.org/").removeprefix("doi:").strip()
    stmt = sa.select(Record).where(Record.project_id == project_id)
    if exclude_id is not None:
        stmt = stmt.where(Record.id != exclude_id)
    by_doi = list(session.scalars(stmt.where(sa.func.lower(Record.doi) == doi).limit(limit)))
    if by_doi:
        return by_doi
    pattern = "%" + text.replace("\\", "").replace("%", "").replace("_", " ").lower() + "%"
    return list(session.scalars(stmt.where(sa.func.lower(Record.title).like(pattern))
                                .order_by(Record.id).limit(limit)))


def latest_job(session: Session, *, project_id: int) -> Job | None:
    """The project's newest dedup job (for the progress line on the queue page)."""
    return session.scalar(sa.select(Job).where(Job.project_id == project_id,
                                               Job.kind == "dedup")
                          .order_by(Job.id.desc()).limit(1))


def file_rows(
    data: bytes, *, filename: str, format: str = "auto"
) -> list[tuple[str, str, str, float | None]]:
    """Deduplicate an importable file without a project: rows of groups.csv.

    A CSV keeps its ``record_id`` column as the id; other formats use the record's own id
    (citekey, accession number) where it is present and unique, else its position (1, 2, ...).

    Raises:
        importers.ImportFormatError: The file cannot be read.
    """
    parsed = importers.parse(data, filename=filename, format=format)
    seen: set[str] = set()
    records = []
    for position, rec in enumerate(parsed.records, start=1):
        raw_id = rec.raw.get("record_id")
        own = (raw_id if isinstance(raw_id, str) else rec.source_id or "").strip()
        rid = own if own and own not in seen else str(position)
        if rid in seen:
            rid = f"{position}#{len(seen)}"
        seen.add(rid)
        records.append(DedupRecord(
            id=rid, title=rec.title, authors=list(rec.authors), year=rec.year,
            journal=rec.journal, volume=rec.volume, issue=rec.issue, pages=rec.pages,
            doi=rec.doi, abstract=rec.abstract, isbn=rec.isbn))
    return dedup_rows(records)
