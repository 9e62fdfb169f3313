"""Screening-order metrics (WSS, recall at a budget, time to discovery).

All functions take the labels in screening order, prior records first (they count as screened).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["METRIC_KEYS", "atd_fraction", "order_metrics", "recall_at", "records_to_recall", "wss"]

#: Keys of metrics.json, in this order.
METRIC_KEYS = (
    "n_records",
    "n_included",
    "wss_95",
    "wss_100",
    "recall_at_10pct",
    "recall_at_25pct",
    "records_to_95",
    "atd_frac",
    "wall_s",
    "median_iteration_s",
)


def _as_labels(labels_in_order: Sequence[int] | np.ndarray) -> np.ndarray:
    y = np.asarray(labels_in_order, dtype=np.int64)
    if y.ndim != 1 or not np.isin(y, (0, 1)).all():
        raise ValueError("labels in order must be a flat sequence of 0/1")
    return y


def records_to_recall(labels_in_order: Sequence[int] | np.ndarray, recall: float) -> int:
    """Records screened (1-based count) until the share `recall` of the includes was found.

    The number of includes needed is ceil(recall * n_included) (with a tolerance for float
    error), so 95% of 20 includes needs 19 and 95% of 16 needs all 16.

    Raises:
        ValueError: if there is no include.
    """
    y = _as_labels(labels_in_order)
    n_inc = int(y.sum())
    if n_inc == 0:
        raise ValueError("no included record: recall is undefined")
    need = max(1, math.ceil(recall * n_inc - 1e-9))
    return int(np.searchsorted(np.cumsum(y), need) + 1)


def wss(labels_in_order: Sequence[int] | np.ndarray, recall: float) -> float:
    """Work saved over sampling at `recall`: (N - records to reach it) / N - (1 - recall)."""
    y = _as_labels(labels_in_order)
    n = y.size
    return (n - records_to_recall(y, recall)) / n - (1.0 - recall)


def recall_at(labels_in_order: Sequence[int] | np.ndarray, fraction: float) -> float:
    """Share of the includes found after screening floor(fraction * N) records."""
    y = _as_labels(labels_in_order)
    n_inc = int(y.sum())
    if n_inc == 0:
        raise ValueError("no included record: recall is undefined")
    return float(y[: int(fraction * y.size)].sum() / n_inc)


def atd_fraction(labels_in_order: Sequence[int] | np.ndarray) -> float:
    """Average time to discovery as a share of N: mean 1-based position of the includes / N."""
    y = _as_labels(labels_in_order)
    pos = np.flatnonzero(y) + 1
    if pos.size == 0:
        raise ValueError("no included record: time to discovery is undefined")
    return float(pos.mean() / y.size)


def order_metrics(
    labels_in_order: Sequence[int] | np.ndarray,
    *,
    wall_s: float = 0.0,
    median_iteration_s: float = 0.0,
) -> dict[str, float | int]:
    """All metrics.json values for one screening order.

    Args:
        labels_in_order: 0/1 labels in screening order, priors first, all N records.
        wall_s: wall time of the whole simulation.
        median_iteration_s: median time of one retrain + re-rank.

    Returns:
        A dict with exactly METRIC_KEYS.
    """
    y = _as_labels(labels_in_order)
    out: dict[str, float | int] = {
        "n_records": int(y.size),
        "n_included": int(y.sum()),
        "wss_95": round(wss(y, 0.95), 6),
        "wss_100": round(wss(y, 1.0), 6),
        "recall_at_10pct": round(recall_at(y, 0.10), 6),
        "recall_at_25pct": round(recall_at(y, 0.25), 6),
        "records_to_95": records_to_recall(y, 0.95),
        "atd_frac": round(atd_fraction(y), 6),
        "wall_s": round(float(wall_s), 4),
        "median_iteration_s": round(float(median_iteration_s), 6),
    }
    return {k: out[k] for k in METRIC_KEYS}
