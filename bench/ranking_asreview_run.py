"""Run one ASReview LAB (ELAS u4) simulation; executed by bench/.venv-asreview's Python.

Usage: ranking_asreview_run.py DATA.csv SEED [--stop-recall R --min-screened K] ROW ROW ...
(prior rows, 0-based). Without --stop-recall the run stops at the last include (ASReview's
LastRelevant); with it, once ceil(R * includes) are found and at least K records are screened
(enough for WSS@R; saves the retrains of the tail). Prints one JSON object: labels in screening
order (priors first), per-iteration seconds, wall and CPU seconds.

       ranking_asreview_run.py --speed DATA.csv N_LABELS [N_LABELS ...]
Times ELAS u4's feature extraction and its retrain + re-rank of the pool after one new label.
Kept free of Sieve imports: it runs in ASReview's own venv.
"""

import json
import math
import sys
import time

import numpy as np
from asreview import load_dataset
from asreview.learner import ActiveLearningCycle
from asreview.models.models import get_ai_config
from asreview.models.queriers import TopDown
from asreview.models.stoppers import IsFittable, LastRelevant
from asreview.simulation.simulate import Simulate


class RecallStop:
    """Stop once `need` includes are labelled and at least `min_screened` records screened."""

    def __init__(self, need: int, min_screened: int) -> None:
        self.need, self.min_screened = need, min_screened

    def stop(self, results, data) -> bool:
        """ASReview's stopper interface: True ends the simulation."""
        if len(results) >= len(data):
            return True
        return bool(results["label"].sum() >= self.need and len(results) >= self.min_screened)


def speed(path: str, label_counts: list[int], repeats: int = 7) -> None:
    db = load_dataset(path, dataset_id="bench")
    df, labels = db.input.get_df(), np.asarray(db.input["included"])
    cycle = ActiveLearningCycle.from_meta(get_ai_config("elas_u4")["value"])
    t0, c0 = time.perf_counter(), time.process_time()
    X = cycle.transform(df)
    transform_s, transform_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    rng = np.random.default_rng(1)
    out = []
    for n_lab in label_counts:
        rows = rng.permutation(len(labels))
        first_inc = rows[np.flatnonzero(labels[rows] == 1)[0]]
        chosen = list(dict.fromkeys([int(first_inc), *map(int, rows[:n_lab])]))[:n_lab]
        times, cpu = [], []
        for r in rows[n_lab : n_lab + repeats]:
            chosen.append(int(r))
            pool = np.setdiff1d(np.arange(len(labels)), chosen)
            t, c = time.perf_counter(), time.process_time()
            cycle.fit(X[chosen], labels[chosen])
            cycle.rank(X[pool])
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        out.append(
            {
                "n_labels": n_lab,
                "median_s": float(np.median(times)),
                "median_cpu_s": float(np.median(cpu)),
                "max_s": float(np.max(times)),
            }
        )
    print(
        json.dumps(
            {
                "transform_s": transform_s,
                "transform_cpu_s": transform_cpu_s,
                "n_records": len(labels),
                "n_features": int(X.shape[1]),
                "runs": out,
            }
        )
    )


def main() -> None:
    if sys.argv[1] == "--speed":
        speed(sys.argv[2], [int(n) for n in sys.argv[3:]])
        return
    path, seed, rest = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    stop_recall, min_screened = None, 0
    if rest[:1] == ["--stop-recall"]:
        stop_recall, min_screened = float(rest[1]), int(rest[3])
        rest = rest[4:]
    rows = [int(r) for r in rest]
    t0, c0 = time.perf_counter(), time.process_time()
    db = load_dataset(path, dataset_id="bench")
    labels = db.input["included"]
    n_inc = int(np.asarray(labels).sum())
    stopper = (
        LastRelevant()
        if stop_recall is None
        else RecallStop(max(1, math.ceil(stop_recall * n_inc - 1e-9)), min_screened)
    )
    cycle = ActiveLearningCycle.from_meta(get_ai_config("elas_u4")["value"])
    iter_s: list[float] = []
    fit_started = [0.0]
    fit, rank = cycle.fit, cycle.rank

    def timed_fit(X, y):
        fit_started[0] = time.perf_counter()
        return fit(X, y)

    def timed_rank(X):
        out = rank(X)
        iter_s.append(time.perf_counter() - fit_started[0])
        return out

    cycle.fit, cycle.rank = timed_fit, timed_rank
    np.random.seed(seed)
    sim = Simulate(
        db.input.get_df(),
        labels,
        [ActiveLearningCycle(querier=TopDown(), stopper=IsFittable()), cycle],
        stopper=stopper,
        print_progress=False,
    )
    sim.label(rows)
    sim.review()
    order = [int(r) for r in sim._results["record_id"].tolist()]
    print(
        json.dumps(
            {
                "order_rows": order,
                "labels": [int(x) for x in np.asarray(labels)[order]],
                "iteration_s": iter_s,
                "wall_s": time.perf_counter() - t0,
                "cpu_s": time.process_time() - c0,
                "n_records": int(len(labels)),
                "n_included": n_inc,
            }
        )
    )


if __name__ == "__main__":
    main()
