"""Simulated screening: replay a labelled set through the active-learning loop.

The model only ever sees the labels of records already "screened"; each step retrains on them
and screens the highest-scored unscreened record (the max query of ASReview).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .embeddings import build_embedding_features
from .features import Features, build_features
from .metrics import order_metrics
from .rankers import UNLABELLED
from .registry import load_ranker

__all__ = ["ScreeningOrder", "SimulationResult", "draw_priors", "simulate"]


@dataclass(frozen=True)
class ScreeningOrder:
    """The full screening order, priors first (arrays of equal length N)."""

    positions: np.ndarray  # 1-based
    record_ids: list[Any]
    labels: np.ndarray  # 0/1 true labels in order
    is_prior: np.ndarray  # bool


@dataclass(frozen=True)
class SimulationResult:
    """What one simulation produced: the order, its metrics and per-iteration timings."""

    order: ScreeningOrder
    metrics: dict[str, float | int]
    iteration_s: list[float] = field(default_factory=list)
    ranker: str = ""
    seed: int = 0


def draw_priors(
    labels: np.ndarray, *, seed: int, n_included: int = 1, n_excluded: int = 1
) -> list[int]:
    """Draw prior rows at random: `n_included` includes and `n_excluded` excludes.

    Raises:
        ValueError: if the set has fewer includes or excludes than asked for.
    """
    rng = np.random.default_rng(seed)
    inc, exc = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    if inc.size < n_included or exc.size < n_excluded:
        raise ValueError(
            f"cannot draw {n_included} included and {n_excluded} excluded priors from "
            f"{inc.size} included and {exc.size} excluded records"
        )
    chosen = [*rng.choice(inc, n_included, replace=False), *rng.choice(exc, n_excluded, False)]
    return [int(i) for i in chosen]


def _prior_rows(prior_ids: Sequence[Any], record_ids: Sequence[Any]) -> list[int]:
    index = {str(r): i for i, r in enumerate(record_ids)}
    missing = [p for p in prior_ids if str(p) not in index]
    if missing:
        raise ValueError(f"prior ids not found among the record ids: {missing[:5]}")
    return [index[str(p)] for p in prior_ids]


def simulate(
    texts: Sequence[str],
    labels: Sequence[int] | np.ndarray,
    *,
    seed: int,
    ranker: str | Any = "default",
    prior_ids: Sequence[Any] | None = None,
    n_prior_included: int = 1,
    n_prior_excluded: int = 1,
    record_ids: Sequence[Any] | None = None,
    features: Features | None = None,
    stop_when_all_found: bool = True,
    max_iterations: int | None = None,
    batch_divisor: int | None = None,
) -> SimulationResult:
    """Simulate screening a labelled set with active learning, retraining after every label.

    Args:
        texts: one text per record.
        labels: the true 0/1 inclusion per record.
        seed: seeds the prior draw and the ranker.
        ranker: registered ranker name or an unfitted estimator.
        prior_ids: record ids to start from (overrides the random draw).
        n_prior_included: includes drawn as priors when `prior_ids` is None.
        n_prior_excluded: excludes drawn as priors when `prior_ids` is None.
        record_ids: id per record (default: the 0-based row).
        features: prebuilt features of `texts` (built here otherwise).
        stop_when_all_found: stop the loop once every include is screened and order the rest by
            the last model (the metrics do not depend on the tail).
        max_iterations: stop the loop after this many retrains (a screening budget); the rest
            is ordered by the last model.
        batch_divisor: if given, retrain only after every max(1, n_labelled // batch_divisor)
            labels, screening the top of the last model's order in between (a cheaper
            simulation; None retrains after every label, as ASReview does).

    Returns:
        The SimulationResult.

    Raises:
        ValueError: on mismatched lengths, labels other than 0/1, or no include.
    """
    y_true = np.asarray(labels, dtype=np.int64)
    ids = list(record_ids) if record_ids is not None else list(range(len(texts)))
    if not (len(texts) == y_true.size == len(ids)):
        raise ValueError("texts, labels and record_ids must have the same length")
    if not np.isin(y_true, (0, 1)).all() or y_true.sum() == 0:
        raise ValueError("labels must be 0/1 with at least one include")
    t_start = time.perf_counter()
    model = load_ranker(ranker, random_state=seed) if isinstance(ranker, str) else ranker
    if features is not None:
        feats = features
    elif getattr(model, "uses_embeddings", False):
        feats = build_embedding_features(texts)  # [TF-IDF | sentence embeddings]
    else:
        feats = build_features(texts)
    if prior_ids is not None:
        priors = _prior_rows(prior_ids, ids)
    else:
        priors = draw_priors(
            y_true, seed=seed, n_included=n_prior_included, n_excluded=n_prior_excluded
        )
    screened, times = _loop(
        feats, y_true, priors, model, stop_when_all_found, max_iterations, batch_divisor
    )
    order_rows = np.asarray(screened, dtype=np.int64)
    wall = time.perf_counter() - t_start
    y_order = y_true[order_rows]
    order = ScreeningOrder(
        positions=np.arange(1, order_rows.size + 1),
        record_ids=[ids[i] for i in order_rows],
        labels=y_order,
        is_prior=np.isin(np.arange(order_rows.size), np.arange(len(priors))),
    )
    metrics = order_metrics(
        y_order, wall_s=wall, median_iteration_s=float(np.median(times)) if times else 0.0
    )
    name = ranker if isinstance(ranker, str) else getattr(ranker, "name", type(ranker).__name__)
    return SimulationResult(order, metrics, times, str(name), seed)


def _loop(
    feats: Features,
    y_true: np.ndarray,
    priors: list[int],
    model: Any,
    stop_when_all_found: bool,
    max_iterations: int | None = None,
    batch_divisor: int | None = None,
) -> tuple[list[int], list[float]]:
    """Run the retrain/query loop; returns the rows in screening order and iteration times."""
    X = feats.matrix
    n = y_true.size
    y = np.full(n, UNLABELLED, dtype=np.int64)
    y[priors] = y_true[priors]
    screened = list(dict.fromkeys(priors))
    n_inc, found = int(y_true.sum()), int(y_true[priors].sum())
    score_of = getattr(model, "decision_function", None)
    times: list[float] = []
    scores = np.zeros(n)
    while len(screened) < n:
        t0 = time.perf_counter()
        model.fit(X, y)
        scores = score_of(X) if score_of is not None else model.predict_proba(X)[:, 1]
        scores = np.where(y == UNLABELLED, scores, -np.inf)
        step = 1 if batch_divisor is None else max(1, len(screened) // batch_divisor)
        # the `step` best unscreened rows, best first (ties by row, like argmax)
        top = np.argsort(-scores, kind="stable")[: min(step, n - len(screened))]
        times.append(time.perf_counter() - t0)
        for nxt in (int(i) for i in top):
            y[nxt] = y_true[nxt]
            screened.append(nxt)
            found += int(y_true[nxt])
        if (stop_when_all_found and found == n_inc) or len(times) == max_iterations:
            break
    rest = np.flatnonzero(y == UNLABELLED)
    # the tail in the last model's order (stable, so ties keep row order)
    rest = rest[np.argsort(-scores[rest], kind="stable")]
    return screened + [int(i) for i in rest], times
