"""Groups of automatic merges with guard rails, and the choice of the record to keep.

Merges are applied strongest first; a merge that would put two different DOIs, years more than
one apart, different erratum/reply/comment markers or two Cochrane review versions into one group
is refused (the pair goes to review instead). In incremental mode a group may hold at most one
record that was already there: those were deduplicated before, so two of them are distinct works.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from screening.dedup.model import DedupRecord
from screening.dedup.normalise import Norm

#: The rail of incremental runs (see the module docstring), as it appears in a pair's reasons.
OLD_RUN_RAIL = "would join two records already deduplicated in an earlier run"


@dataclass
class _Group:
    """What the guard rails need to know about one growing group."""

    dois: set[str] = field(default_factory=set)
    years: set[int] = field(default_factory=set)
    markers: set[frozenset[str]] = field(default_factory=set)
    cochrane: set[str] = field(default_factory=set)
    old: int = 0

    def absorb(self, other: _Group) -> None:
        self.dois |= other.dois
        self.years |= other.years
        self.markers |= other.markers
        self.cochrane |= other.cochrane
        self.old += other.old


def _clash(a: _Group, b: _Group) -> str:
    """Name the guard rail that forbids joining two groups, or "" if none does."""
    if len(a.dois | b.dois) > 1:
        return "would put two different DOIs in one group"
    years = a.years | b.years
    if years and max(years) - min(years) > 1:
        return "would put years more than 1 apart in one group"
    if len(a.markers | b.markers) > 1:
        return "would merge an erratum/reply/comment with the paper it concerns"
    if len(a.cochrane | b.cochrane) > 1:
        return "would merge different Cochrane review versions"
    if a.old + b.old > 1:
        return OLD_RUN_RAIL
    return ""


def _group_of(norm: Norm, old: bool = False) -> _Group:
    return _Group({norm.doi} - {""}, {norm.year} if norm.year else set(), {norm.markers},
                  {norm.cochrane} - {""}, int(old))


def group_clash(norms: Sequence[Norm]) -> str:
    """The guard rail (other than the incremental one) that these records as one group break.

    Returns:
        The rail's wording, or "" if the records may be one group.
    """
    if not norms:
        return ""
    whole = _group_of(norms[0])
    for norm in norms[1:]:
        whole.absorb(_group_of(norm))
    return _clash(whole, _Group())


class GuardedUnion:
    """Union-find over record indices whose unions respect the guard rails."""

    def __init__(self, norms: Sequence[Norm], old: Sequence[bool]) -> None:
        self.parent = list(range(len(norms)))
        self.info = [_group_of(n, o) for n, o in zip(norms, old, strict=True)]

    def find(self, i: int) -> int:
        """Root of i's group (with path halving)."""
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> str:
        """Join the groups of i and j; return "" on success or the guard rail that refused."""
        ri, rj = self.find(i), self.find(j)
        if ri == rj:
            return ""
        clash = _clash(self.info[ri], self.info[rj])
        if clash:
            return clash
        if rj < ri:
            ri, rj = rj, ri
        self.parent[rj] = ri
        self.info[ri].absorb(self.info[rj])
        return ""

    def groups(self) -> list[list[int]]:
        """Components of size two or more, as lists of indices."""
        members: dict[int, list[int]] = {}
        for i in range(len(self.parent)):
            members.setdefault(self.find(i), []).append(i)
        return [m for m in members.values() if len(m) > 1]


# UTF-8 text decoded as cp1252 or Latin-1 ("donâ€™t", "Ã©tude", "Â "): the marks of a garbled copy
_MOJIBAKE = re.compile("[\u00c2\u00c3][\u0080-\u00bf]|\u00e2\u20ac|\u00e2\u0080|\ufffd")


def garbled(record: DedupRecord) -> bool:
    """Whether the title or abstract shows mojibake or replacement characters."""
    return bool(_MOJIBAKE.search(record.title or "") or _MOJIBAKE.search(record.abstract or ""))


def completeness(record: DedupRecord) -> tuple[int, int, int]:
    """(fields present, clean text, length of title + abstract): more is a better record to keep.

    A garbled copy is longer than the clean one ("â€œ" is three characters for one quote mark), so
    clean text is weighed before length.
    """
    values = (record.title, record.authors, record.year, record.journal, record.volume,
              record.issue, record.pages, record.doi, record.abstract, record.isbn)
    filled = sum(1 for v in values if v not in (None, "", []))
    return filled, int(not garbled(record)), len(record.title or "") + len(record.abstract or "")


def choose_kept(group: Sequence[DedupRecord]) -> str:
    """Return the id of the record a group keeps.

    A locked (already screened) record wins; among several locked records, or when none is
    locked, the most complete record wins (a garbled copy loses to a clean one); ties go to the
    smallest id, so the choice is stable.

    Args:
        group: the records of one duplicate group (at least one).

    Returns:
        The id of the record to keep.
    """
    if not group:
        raise ValueError("choose_kept needs at least one record")
    best = min(group, key=lambda r: (not r.locked, *(-v for v in completeness(r)), r.id))
    return best.id
