"""When is it safe to stop screening? A statistical rule and two heuristics to compare it with.

Each rule takes the 0/1 labels of the records screened so far, in screening order, and the size
of the whole set, and returns a dataclass with `should_stop`, the rule's name, its parameters
and the evidence, ready to be stored with a decision to stop.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import beta, hypergeom

__all__ = [
    "StopDecision",
    "consecutive_irrelevant_stop",
    "hypergeometric_stop",
    "knee_stop",
]


@dataclass(frozen=True)
class StopDecision:
    """The outcome of a stopping rule at one moment of screening.

    Attributes:
        should_stop: whether the rule says the remaining records may be left unscreened.
        rule: the rule's name.
        params: the rule's parameters (recall target, confidence, thresholds).
        evidence: the figures the decision rests on (counts, p-value, ...).
        estimated_recall: point estimate of the recall reached, where the rule gives one.
        recall_interval: (low, high) bounds of that estimate at the rule's confidence.
    """

    should_stop: bool
    rule: str
    params: dict[str, Any]
    evidence: dict[str, Any] = field(default_factory=dict)
    estimated_recall: float | None = None
    recall_interval: tuple[float, float] | None = None


def _labels(screened: Sequence[int] | np.ndarray, n_total: int) -> np.ndarray:
    y = np.asarray(screened, dtype=np.int64)
    if y.ndim != 1 or not np.isin(y, (0, 1)).all():
        raise ValueError("screened labels must be a flat sequence of 0/1")
    if n_total < y.size:
        raise ValueError(f"n_total ({n_total}) is smaller than the records screened ({y.size})")
    return y


def hypergeometric_stop(
    screened: Sequence[int] | np.ndarray,
    n_total: int,
    *,
    recall_target: float = 0.95,
    confidence: float = 0.95,
    sample_start: int | None = None,
) -> StopDecision:
    """Callaghan & Müller-Hansen (2020): stop when recall < target is rejected.

    The last n screened records are treated as a sample drawn without replacement from the
    records that were unscreened before them (the "urn"). If recall were below the target, the
    urn would have held at least K_tar = floor((r_seen)/tau - r_before) + 1 relevant records; the
    p-value is the hypergeometric probability of seeing as few relevant records as were seen.

    With `sample_start`, the records from that position on must be a random sample of the
    unscreened records (the paper's design). Without it, every suffix of the ranked order is
    tested and the smallest p-value used, as in the authors' ranked-list variant: records the
    model ranked first are richer in relevant ones than a random draw, so this is conservative
    only as long as the ranking is better than random, which the simulations check.

    Args:
        screened: 0/1 labels in screening order.
        n_total: records in the whole set.
        recall_target: tau, the recall to guarantee.
        confidence: 1 - alpha of the test.
        sample_start: 0-based position where random sampling began, if it did.

    Returns:
        A StopDecision with the p-value, the window used, and the estimated recall with its
        interval (the relevant records left are estimated from the window's hit rate).
    """
    y = _labels(screened, n_total)
    params = {
        "recall_target": recall_target,
        "confidence": confidence,
        "sample_start": sample_start,
    }
    n_seen, r_seen = int(y.size), int(y.sum())
    if n_seen == 0 or r_seen == 0:
        return StopDecision(False, "hypergeometric", params, {"reason": "no relevant record yet"})
    starts = np.array([sample_start]) if sample_start is not None else np.arange(n_seen)
    cum = np.concatenate([[0], np.cumsum(y)])
    n = n_seen - starts  # sample sizes
    k = r_seen - cum[starts]  # relevant in the sample
    urn = n_total - starts  # unscreened before the sample
    r_before = cum[starts]
    k_tar = np.floor(r_seen / recall_target - r_before).astype(np.int64) + 1
    p = hypergeom.cdf(k, urn, np.minimum(k_tar, urn), n)
    best = int(np.argmin(p))
    pmin = float(p[best])
    est, low, high = _recall_estimate(
        int(n[best]), int(k[best]), r_seen, n_total - n_seen, confidence
    )
    evidence = {
        "p_value": pmin,
        "n_screened": n_seen,
        "n_relevant_found": r_seen,
        "sample_start": int(starts[best]),
        "sample_size": int(n[best]),
        "sample_relevant": int(k[best]),
        "urn_size": int(urn[best]),
        "k_tar": int(k_tar[best]),
    }
    return StopDecision(pmin < 1 - confidence, "hypergeometric", params, evidence, est, (low, high))


def _recall_estimate(
    n: int, k: int, r_seen: int, n_left: int, confidence: float
) -> tuple[float, float, float]:
    """Recall estimate from the sample's hit rate (Clopper-Pearson bounds on the rate left)."""
    alpha = 1 - confidence
    rate = k / n if n else 0.0
    lo_rate = float(beta.ppf(alpha / 2, k, n - k + 1)) if k > 0 else 0.0
    hi_rate = float(beta.ppf(1 - alpha / 2, k + 1, n - k)) if k < n else 1.0

    # the unscreened records are assumed to hold relevant ones at the sample's rate
    def recall(r: float) -> float:
        return r_seen / (r_seen + r * n_left)

    return recall(rate), recall(hi_rate), recall(lo_rate)


def consecutive_irrelevant_stop(
    screened: Sequence[int] | np.ndarray, n_total: int, *, n_consecutive: int | None = None
) -> StopDecision:
    """Stop after `n_consecutive` irrelevant records in a row (ASReview's heuristic).

    Args:
        screened: 0/1 labels in screening order.
        n_total: records in the whole set.
        n_consecutive: the run length; default 5% of the set, at least 50.
    """
    y = _labels(screened, n_total)
    n_run = n_consecutive if n_consecutive is not None else max(50, math.ceil(0.05 * n_total))
    hits = np.flatnonzero(y)
    run = int(y.size - (hits[-1] + 1)) if hits.size else int(y.size)
    return StopDecision(
        run >= n_run and hits.size > 0,
        "consecutive-irrelevant",
        {"n_consecutive": n_run},
        {"current_run": run, "n_screened": int(y.size), "n_relevant_found": int(hits.size)},
    )


def knee_stop(
    screened: Sequence[int] | np.ndarray,
    n_total: int,
    *,
    target_ratio: float = 156.0,
    min_screened: int = 150,
) -> StopDecision:
    """Cormack & Grossman's (2016) knee method on the gain curve.

    The knee is the point of the curve (relevant found vs screened) farthest from the straight
    line to the current point; stop when the slope before it is at least
    `target_ratio - min(relevant found, 150)` times the slope after it (with one relevant record
    added after, so a flat tail still counts), and at least `min_screened` records were screened.

    Args:
        screened: 0/1 labels in screening order.
        n_total: records in the whole set.
        target_ratio: the slope ratio to reach (156 in the paper).
        min_screened: screen at least this many before stopping.
    """
    y = _labels(screened, n_total)
    params = {"target_ratio": target_ratio, "min_screened": min_screened}
    s, r = int(y.size), int(y.sum())
    if s == 0 or r == 0:
        return StopDecision(False, "knee", params, {"n_screened": s, "n_relevant_found": r})
    gain = np.cumsum(y)
    x = np.arange(1, s + 1)
    # distance of each point from the chord (0,0)-(s,r), up to a constant factor
    knee = int(np.argmax(gain * s - x * r)) + 1
    r_knee = int(gain[knee - 1])
    slope_before = r_knee / knee
    slope_after = (r - r_knee + 1) / max(s - knee, 1)
    ratio = slope_before / slope_after
    needed = target_ratio - min(r, 150)
    evidence = {"n_screened": s, "n_relevant_found": r, "knee": knee, "slope_ratio": ratio}
    return StopDecision(ratio >= needed and s >= min_screened, "knee", params, evidence)
