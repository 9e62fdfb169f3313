"""Run one ASReview LAB (ELAS u4) simulation; executed by bench/.venv-asreview's Python.

Usage: ranking_asreview_run.py DATA.csv SEED ROW ROW ...   (prior rows, 0-based)
Prints one JSON object: labels in screening order (priors first), per-iteration seconds, wall.
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


def main() -> None:
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
