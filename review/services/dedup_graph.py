"""The duplicate groups of a project: loading records for the engine, components and regrouping.

A group is a connected component of the pairs with status "auto" or "confirmed". ``regroup``
derives ``records.canonical_id`` from those pairs (the kept record chosen by the engine's
``choose_kept``: a screened record wins, else the most complete), for the groups a change
touched, and returns what changed.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from review.models import Decision, DuplicateCandidate, ImportBatch, Project, Record, Source
from review.services.ranking import records_changed
from screening.dedup import DedupRecord, choose_kept

MERGED = ("auto", "confirmed")
_CHUNK = 500  # ids per IN clause (SQLite caps bound parameters)


class Components:
    """Union-find over record ids, with each component's members."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}
        self.members: dict[int, set[int]] = {}

    def find(self, x: int) -> int:
        """The root of x's component (x alone if it is in no pair)."""
        parent = self.parent
        if x not in parent:
            return x
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def group(self, x: int) -> set[int]:
        """The members of x's component."""
        return self.members.get(self.find(x), {x})

    def union(self, a: int, b: int) -> int:
        """Join the components of a and b; returns the new root."""
        for x in (a, b):
            if x not in self.parent:
                self.parent[x] = x
                self.members[x] = {x}
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        if len(self.members[ra]) < len(self.members[rb]):
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.members[ra] |= self.members.pop(rb)
        return ra

    def key(self, a: int, b: int) -> tuple[int, int]:
        """An order-free key for the pair of components of a and b."""
        ra, rb = self.find(a), self.find(b)
        return (ra, rb) if ra <= rb else (rb, ra)

    def has_any(self, x: int, ids: Collection[int]) -> bool:
        """Whether x's component holds one of ``ids``."""
        return any(m in ids for m in self.group(x))

    def kept_apart(self, a: int, b: int, rejected: dict[int, set[int]]) -> bool:
        """Whether a pair of ``rejected`` (record -> partners) joins a's and b's components."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        small, other = (ra, rb) if len(self.group(ra)) <= len(self.group(rb)) else (rb, ra)
        return any(self.find(v) == other for u in self.group(small)
                   for v in rejected.get(u, ()))


def merged_components(session: Session, *, project_id: int) -> Components:
    """The components of the project's automatic and confirmed pairs."""
    groups = Components()
    for a, b in session.execute(sa.select(DuplicateCandidate.record_a_id,
                                          DuplicateCandidate.record_b_id).where(
            DuplicateCandidate.project_id == project_id, DuplicateCandidate.status.in_(MERGED))):
        groups.union(a, b)
    return groups


def rejected_partners(session: Session, *, project_id: int, status: str = "rejected"
                      ) -> dict[int, set[int]]:
    """Map each record id to the records a lead marked as not its duplicates.

    With ``status="pending"``: to the records it awaits a decision with.
    """
    partners: dict[int, set[int]] = {}
    for a, b in session.execute(sa.select(DuplicateCandidate.record_a_id,
                                          DuplicateCandidate.record_b_id).where(
            DuplicateCandidate.project_id == project_id,
            DuplicateCandidate.status == status)):
        partners.setdefault(a, set()).add(b)
        partners.setdefault(b, set()).add(a)
    return partners


def open_pending(project_id: int) -> Any:
    """Pending pairs whose records are still in different groups (the queue's questions).

    A pending pair whose records were since joined through other pairs is settled by
    transitivity and left out; it comes back if an undo splits the group again.
    """
    ra, rb = aliased(Record), aliased(Record)
    return (sa.select(DuplicateCandidate)
            .join(ra, ra.id == DuplicateCandidate.record_a_id)
            .join(rb, rb.id == DuplicateCandidate.record_b_id)
            .where(DuplicateCandidate.project_id == project_id,
                   DuplicateCandidate.status == "pending",
                   sa.func.coalesce(ra.canonical_id, ra.id)
                   != sa.func.coalesce(rb.canonical_id, rb.id)))


def load_dedup_records(
    session: Session, *, project_id: int, ids: Iterable[int] | None = None
) -> dict[int, DedupRecord]:
    """The project's records (or those of ``ids``) as the engine's DedupRecords, by id.

    ``locked`` is set on records with any screening decision; ``source`` is the source name.
    """
    locked = sa.exists().where(Decision.record_id == Record.id)
    stmt = (sa.select(Record.id, Record.title, Record.authors, Record.year, Record.journal,
                      Record.volume, Record.issue, Record.pages, Record.doi, Record.abstract,
                      Record.isbn, Source.name, locked.label("locked"))
            .outerjoin(ImportBatch, ImportBatch.id == Record.batch_id)
            .outerjoin(Source, Source.id == ImportBatch.source_id)
            .where(Record.project_id == project_id))
    # Core execution: the ORM's per-row bookkeeping is not needed for plain columns.
    conn = session.connection()
    if ids is None:
        return {row[0]: _as_dedup(row) for row in conn.execute(stmt)}
    found: dict[int, DedupRecord] = {}
    for chunk in _chunked(ids):
        found.update((row[0], _as_dedup(row)) for row in conn.execute(
            stmt.where(Record.id.in_(chunk))))
    return found


def _as_dedup(row: Any) -> DedupRecord:
    (rid, title, authors, year, journal, volume, issue, pages, doi, abstract, isbn, source,
     locked) = row
    return DedupRecord(id=str(rid), title=title, authors=[str(a) for a in authors or [] if a],
                       year=year, journal=journal, volume=volume, issue=issue, pages=pages,
                       doi=doi, abstract=abstract, isbn=isbn, source=source, locked=bool(locked))


def _chunked(ids: Iterable[int]) -> Iterator[list[int]]:
    wanted = sorted(set(ids))
    for start in range(0, len(wanted), _CHUNK):
        yield wanted[start:start + _CHUNK]


def _group_members(session: Session, project_id: int, ids: Iterable[int]
                   ) -> dict[int, int | None]:
    """Record id -> canonical id for every member of the current groups of ``ids``.

    Relies on the invariant ``regroup`` keeps: every duplicate points at its kept record.
    """
    heads: set[int] = set()
    for chunk in _chunked(ids):
        heads.update(c or i for i, c in session.execute(
            sa.select(Record.id, Record.canonical_id).where(
                Record.project_id == project_id, Record.id.in_(chunk))))
    members: dict[int, int | None] = {}
    for chunk in _chunked(heads):
        members.update(session.execute(sa.select(Record.id, Record.canonical_id).where(
            Record.project_id == project_id,
            sa.or_(Record.id.in_(chunk), Record.canonical_id.in_(chunk)))).all())
    return members


def local_components(session: Session, *, project_id: int, ids: Iterable[int]
                     ) -> tuple[Components, dict[int, int | None]]:
    """The merged components around ``ids``: their current groups and the pairs now joining.

    Returns the components and the canonical ids (before any change) of every record involved;
    grows until no merged pair leads outside, so it is exact even if the invariant was broken.
    """
    canon = _group_members(session, project_id, ids)
    groups = Components()
    seen_edges: set[tuple[int, int]] = set()
    frontier = set(canon)
    while frontier:
        outside: set[int] = set()
        for chunk in _chunked(frontier):
            for a, b in session.execute(sa.select(
                    DuplicateCandidate.record_a_id, DuplicateCandidate.record_b_id).where(
                    DuplicateCandidate.project_id == project_id,
                    DuplicateCandidate.status.in_(MERGED),
                    sa.or_(DuplicateCandidate.record_a_id.in_(chunk),
                           DuplicateCandidate.record_b_id.in_(chunk)))):
                if (a, b) not in seen_edges:
                    seen_edges.add((a, b))
                    groups.union(a, b)
                    outside.update(x for x in (a, b) if x not in canon)
        grown = _group_members(session, project_id, outside) if outside else {}
        frontier = grown.keys() - canon.keys()
        canon.update(grown)
    return groups, canon


def same_group(session: Session, *, project_id: int, a: int, b: int) -> bool:
    """Whether the merged pairs (as stored now) join records a and b."""
    groups, _canon = local_components(session, project_id=project_id, ids=(a, b))
    return groups.find(a) == groups.find(b)


def rejected_around(session: Session, *, project_id: int, ids: Iterable[int]
                    ) -> dict[int, set[int]]:
    """Like ``rejected_partners``, for the records of ``ids`` only."""
    partners: dict[int, set[int]] = {}
    for chunk in _chunked(ids):
        for a, b in session.execute(sa.select(
                DuplicateCandidate.record_a_id, DuplicateCandidate.record_b_id).where(
                DuplicateCandidate.project_id == project_id,
                DuplicateCandidate.status == "rejected",
                sa.or_(DuplicateCandidate.record_a_id.in_(chunk),
                       DuplicateCandidate.record_b_id.in_(chunk)))):
            partners.setdefault(a, set()).add(b)
            partners.setdefault(b, set()).add(a)
    return partners


def regroup(
    session: Session, *, project_id: int, touched: Iterable[int],
    details: dict[int, DedupRecord] | None = None,
) -> dict[int, list[int | None]]:
    """Re-derive canonical ids for the groups of ``touched`` records, before and after.

    The affected records are the touched ones, the members of their current groups (a split
    frees them) and the members of their groups as the pairs now say (a merge gathers them).

    Returns:
        record id -> [canonical id before, canonical id after], for the records that changed.
    """
    touched = set(touched)
    if not touched:
        return {}
    groups, canon = local_components(session, project_id=project_id, ids=touched)
    known = details or {}
    missing = [r for r in canon if r not in known]
    records = {**{r: known[r] for r in canon if r in known},
               **load_dedup_records(session, project_id=project_id, ids=missing)}
    changes: dict[int, list[int | None]] = {}
    done: set[int] = set()
    for r in sorted(canon):
        if r in done:
            continue
        members = groups.group(r)
        done |= members
        kept = int(choose_kept([records[m] for m in members])) if len(members) > 1 else r
        for m in members:
            want = None if m == kept else kept
            if canon[m] != want:
                changes[m] = [canon[m], want]
    _apply(session, changes)
    if changes:  # other records are kept now: new features and a new ranking
        records_changed(session, project_id=project_id)
    return changes


def _apply(session: Session, changes: dict[int, list[int | None]]) -> None:
    """Write changed canonical ids (bulk by primary key) and refresh loaded Record objects."""
    if not changes:
        return
    session.execute(sa.update(Record), [{"id": rid, "canonical_id": after}
                                        for rid, (_before, after) in changes.items()])
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Record) and obj.id in changes:
            session.expire(obj, ["canonical_id"])


def lock_groups(session: Session, project_id: int) -> None:
    """Serialise the changes to a project's groups (a run, decisions, undos, flags).

    PostgreSQL: a row lock on the project that does not block inserts referencing it (NO KEY
    UPDATE); SQLite: writers already hold the database's write lock.
    """
    session.execute(sa.select(Project.id).where(Project.id == project_id)
                    .with_for_update(key_share=True))
