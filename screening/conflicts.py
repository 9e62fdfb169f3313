"""When reviewers' decisions on a record disagree, and what the record's outcome is.

Pure rules over plain values, shared by the conflict queue, the dashboard counts and the
agreement statistics so that every screen counts a conflict the same way.

The rule (issue 6): reviewers disagree when one says include and another exclude, with
"maybe" counting as include. At full text, when the project says so, reviewers who all
exclude but for different reasons disagree too. A lead's resolution overrides the reviewers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

TITLE_ABSTRACT = "title_abstract"
FULL_TEXT = "full_text"
INCLUDE_SIDE = frozenset({"include", "maybe"})

PENDING = "pending"
AGREED = "agreed"
CONFLICT = "conflict"
RESOLVED = "resolved"


@dataclass(frozen=True)
class Vote:
    """One reviewer's decision on a record at a stage, as the rule sees it."""

    label: str
    reason_id: int | None = None


@dataclass(frozen=True)
class Outcome:
    """Where a record stands at a stage.

    ``status`` is pending (decisions missing), agreed, conflict or resolved; ``label`` is the
    final include/exclude when agreed or resolved, else None.
    """

    status: str
    label: str | None = None

    @property
    def included(self) -> bool:
        """The record passes this stage."""
        return self.label == "include"


def side(label: str) -> str:
    """The side a label falls on: "include" for include and maybe, else "exclude".

    Raises:
        ValueError: for a label that is not include, exclude or maybe.
    """
    if label in INCLUDE_SIDE:
        return "include"
    if label == "exclude":
        return "exclude"
    raise ValueError(f"unknown label {label!r}")


@dataclass(frozen=True)
class Tally:
    """What the rule needs to know about a record's decisions at a stage.

    ``exclude_reasons`` counts the distinct reasons among the exclusions, a missing reason
    counting as one more. The database can compute a tally with one GROUP BY, so the
    dashboard and the queue apply exactly this rule without loading every decision.
    """

    n: int
    n_exclude: int
    exclude_reasons: int


def tally(votes: Sequence[Vote]) -> Tally:
    """The tally of some decisions (labels are checked)."""
    excludes = [v for v in votes if side(v.label) == "exclude"]
    return Tally(len(votes), len(excludes), len({v.reason_id for v in excludes}))


def tally_conflict(t: Tally, *, stage: str, conflict_on_reason_ft: bool = False) -> bool:
    """The conflict rule over a tally; see :func:`is_conflict`."""
    if 0 < t.n_exclude < t.n:
        return True
    return (stage == FULL_TEXT and conflict_on_reason_ft and t.n_exclude == t.n
            and t.exclude_reasons > 1)


def is_conflict(
    votes: Sequence[Vote], *, stage: str, conflict_on_reason_ft: bool = False
) -> bool:
    """Whether these decisions disagree.

    Args:
        votes: the reviewers' decisions on one record at one stage.
        stage: "title_abstract" or "full_text".
        conflict_on_reason_ft: the project's setting; at full text, exclusions for different
            reasons then disagree (a missing reason differs from any given reason).

    Returns:
        True when some reviewer is on the include side and another on the exclude side, or
        (full text, with the setting) all exclude but not for the same reason.
    """
    return tally_conflict(tally(votes), stage=stage, conflict_on_reason_ft=conflict_on_reason_ft)


def outcome(
    votes: Sequence[Vote],
    *,
    quota: int,
    stage: str,
    conflict_on_reason_ft: bool = False,
    resolution: str | None = None,
) -> Outcome:
    """A record's standing at a stage from its decisions, its quota and any resolution.

    A record is decided only when it has all ``quota`` decisions: until then it is pending,
    even if the decisions so far disagree (the remaining reviewer has not spoken yet).

    Args:
        votes: the current decisions on the record at this stage.
        quota: how many independent decisions the record needs (1 to 3).
        stage: "title_abstract" or "full_text".
        conflict_on_reason_ft: see :func:`is_conflict`.
        resolution: a lead's final label ("include" or "exclude"), which overrides the rest.

    Returns:
        The outcome; ``label`` is "include" when the record passes the stage.
    """
    return outcome_of(tally(votes), quota=quota, stage=stage,
                      conflict_on_reason_ft=conflict_on_reason_ft, resolution=resolution)


def outcome_of(
    t: Tally, *, quota: int, stage: str, conflict_on_reason_ft: bool = False,
    resolution: str | None = None,
) -> Outcome:
    """:func:`outcome` over a tally."""
    if resolution is not None:
        return Outcome(RESOLVED, side(resolution))
    if t.n == 0 or t.n < quota:
        return Outcome(PENDING)
    if tally_conflict(t, stage=stage, conflict_on_reason_ft=conflict_on_reason_ft):
        return Outcome(CONFLICT)
    return Outcome(AGREED, "exclude" if t.n_exclude else "include")
