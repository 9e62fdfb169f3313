"""Plain data types of the deduplication engine: its input record and its results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Decision = Literal["auto", "review"]


@dataclass
class DedupRecord:
    """One bibliographic record as the engine sees it.

    ``authors`` holds "Family, Given" strings or raw author strings as exported (the engine
    copes with "Adeli K.Lewis G. F.", "Zuber, J and Le Quintrec, M" and "Wu, C.; Li, M.").
    ``locked`` marks a record that was already screened: it wins as the kept record of a group.
    """

    id: str
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    year: int | None = None
    journal: str | None = None
    volume: str | None = None
    issue: str | None = None
    pages: str | None = None
    doi: str | None = None
    abstract: str | None = None
    isbn: str | None = None
    source: str | None = None
    locked: bool = False


@dataclass(frozen=True)
class Reason:
    """Why a pair scored as it did: one field's similarity, or a rule or guard rail.

    ``field`` is a record field name ("title", "doi", ...), "rule" for the rule that fired or
    "guard" for a guard rail that blocked an automatic merge. ``similarity`` is 0..1 for fields
    (None for rules and guards); ``note`` is a short human-readable explanation for the UI.
    """

    field: str
    similarity: float | None
    note: str


@dataclass
class Pair:
    """A candidate duplicate pair: merged automatically or sent to a human for review."""

    a: str
    b: str
    score: float
    decision: Decision
    reasons: list[Reason] = field(default_factory=list)


@dataclass
class DedupResult:
    """The engine's answer.

    ``pairs`` holds every pair decided "auto" or "review" (distinct pairs are left out).
    ``groups`` lists the connected components (size >= 2) of the automatic merges that passed the
    guard rails, each sorted by id, the list sorted by its first id. ``stats`` holds counts and
    seconds per phase.
    """

    pairs: list[Pair] = field(default_factory=list)
    groups: list[list[str]] = field(default_factory=list)
    stats: dict[str, float] = field(default_factory=dict)
