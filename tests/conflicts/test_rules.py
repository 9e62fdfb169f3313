"""The conflict rule and a record's outcome at a stage."""

from __future__ import annotations

import pytest

from screening.conflicts import (
    AGREED,
    CONFLICT,
    PENDING,
    RESOLVED,
    Vote,
    is_conflict,
    outcome,
    side,
)

TA, FT = "title_abstract", "full_text"


@pytest.mark.parametrize(("labels", "expected"), [
    (("include", "include"), False),
    (("exclude", "exclude"), False),
    (("include", "exclude"), True),
    (("maybe", "exclude"), True),
    (("maybe", "include"), False),  # maybe counts as include
    (("maybe", "maybe"), False),
    (("include", "include", "exclude"), True),
])
def test_include_versus_exclude(labels, expected) -> None:
    votes = [Vote(label) for label in labels]
    assert is_conflict(votes, stage=TA) is expected
    assert is_conflict(votes, stage=FT, conflict_on_reason_ft=True) is expected


def test_different_reasons_conflict_only_at_full_text_and_only_when_set() -> None:
    votes = [Vote("exclude", 1), Vote("exclude", 2)]
    assert is_conflict(votes, stage=FT, conflict_on_reason_ft=True)
    assert not is_conflict(votes, stage=FT, conflict_on_reason_ft=False)
    assert not is_conflict(votes, stage=TA, conflict_on_reason_ft=True)
    assert not is_conflict([Vote("exclude", 1), Vote("exclude", 1)], stage=FT,
                           conflict_on_reason_ft=True)
    # A missing reason is not the same reason.
    assert is_conflict([Vote("exclude", 1), Vote("exclude", None)], stage=FT,
                       conflict_on_reason_ft=True)
    # Reasons of include decisions do not matter.
    assert not is_conflict([Vote("include", 1), Vote("maybe", 2)], stage=FT,
                           conflict_on_reason_ft=True)


def test_outcome_waits_for_the_quota() -> None:
    assert outcome([Vote("include")], quota=2, stage=TA).status == PENDING
    assert outcome([], quota=1, stage=TA).status == PENDING
    one = outcome([Vote("maybe")], quota=1, stage=TA)
    assert one.status == AGREED and one.included
    three = [Vote("include"), Vote("exclude")]
    assert outcome(three, quota=3, stage=TA).status == PENDING
    assert outcome(three, quota=2, stage=TA).status == CONFLICT
    agreed_out = outcome([Vote("exclude"), Vote("exclude")], quota=2, stage=TA)
    assert agreed_out.status == AGREED and not agreed_out.included


def test_resolution_overrides_the_reviewers() -> None:
    votes = [Vote("include"), Vote("exclude")]
    resolved = outcome(votes, quota=2, stage=TA, resolution="exclude")
    assert resolved.status == RESOLVED and resolved.label == "exclude"
    assert outcome(votes, quota=2, stage=TA, resolution="include").included


def test_unknown_label_is_an_error() -> None:
    with pytest.raises(ValueError):
        side("perhaps")


def test_tally_counts_a_missing_reason_as_its_own() -> None:
    from screening.conflicts import Tally, tally

    votes = [Vote("exclude", None), Vote("exclude", 3), Vote("maybe", 4), Vote("exclude", 3)]
    assert tally(votes) == Tally(n=4, n_exclude=3, exclude_reasons=2)
