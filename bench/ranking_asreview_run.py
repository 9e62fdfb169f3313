"""Run one ASReview LAB (ELAS u4) simulation; executed by bench/.venv-asreview's Python.

Usage: ranking_asreview_run.py DATA.csv SEED ROW ROW ...   (prior rows, 0-based)
Prints one JSON object: labels in screening order (priors first), per-iteration seconds, wall.

       ranking_asreview_run.py --speed DATA.csv N_LABELS [N_LABELS ...]
Times ELAS u4's feature extraction and its retrain + re-rank of the pool after one new label.
Kept free of Sieve imports: it runs in ASReview's own venv.
"""

import json
import sys
import time

import numpy as np
from asreview import load_dataset
from asreview.learner import ActiveLearningCycle
from asreview.models.models import get_ai_config
from asreview.models.queriers import TopDown
from asreview.models.stoppers import IsFittable, LastRelevant
from asreview.simulation.simulate import Simulate


def speed(path: str, label_counts: list[int], repeats: int = 11) -> None:
    db = load_dataset(path, dataset_id="bench")
    df, labels = db.input.get_df(), np.asarray(db.input["included"])
    cycle = ActiveLearningCycle.from_meta(get_ai_config("elas_u4")["value"])
    t0 = time.perf_counter()
    X = cycle.transform(df)
    transform_s = time.perf_counter() - t0
    rng = np.random.default_rng(1)
    out = []
    for n_lab in label_counts:
        rows = rng.permutation(len(labels))
        first_inc = rows[np.flatnonzero(labels[rows] == 1)[0]]
        chosen = list(dict.fromkeys([int(first_inc), *map(int, rows[:n_lab])]))[:n_lab]
        times = []
        for r in rows[n_lab : n_lab + repeats]:
            chosen.append(int(r))
            pool = np.setdiff1d(np.arange(len(labels)), chosen)
            t = time.perf_counter()
            cycle.fit(X[chosen], labels[chosen])
            cycle.rank(X[pool])
            times.append(time.perf_counter() - t)
        out.append({"n_labels": n_lab, "median_s": float(np.median(times))})
    print(json.dumps({"transform_s": transform_s, "n_records": len(labels), "runs": out}))


def main() -> None:
    if sys.argv[1] == "--speed":
        speed(sys.argv[2], [int(n) for n in sys.argv[3:]])
        return
    path, seed, rows = sys.argv[1], int(sys.argv[2]), [int(r) for r in sys.argv[3:]]
    t0 = time.perf_counter()
    db = load_dataset(path, dataset_id="bench")
    labels = db.input["included"]
    cycle = ActiveLearningCycle.from_meta(get_ai_config("elas_u4")["value"])
    iter_s = []
    fit, rank = cycle.fit, cycle.rank

    def timed_fit(X, y):
        timed_fit.t = time.perf_counter()
        return fit(X, y)

    def timed_rank(X):
        out = rank(X)
        iter_s.append(time.perf_counter() - timed_fit.t)
        return out

    cycle.fit, cycle.rank = timed_fit, timed_rank
    np.random.seed(seed)
    sim = Simulate(
        db.input.get_df(),
        labels,
        [ActiveLearningCycle(querier=TopDown(), stopper=IsFittable()), cycle],
        stopper=LastRelevant(),
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
                "n_records": int(len(labels)),
            }
        )
    )


if __name__ == "__main__":
    main()
