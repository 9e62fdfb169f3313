"""Paired comparison of ranker variants by simulated screening (same priors for every arm).

Every arm starts from the prior records of ASReview ELAS u4's baseline runs
(../shared/data/baselines/asreview_elas_u4_dev.json), so the arms and ELAS u4 differ only in
the model. With --batch K every arm retrains after every max(1, n_labelled // K) labels
(cheaper; the same schedule for every arm); without it, after every label.

    .venv/bin/python bench/ranking_compare.py --batch 50 --seeds 1 \\
        --arms exact=tfidf-svm fast=tfidf-svm-fast 'pn100=tfidf-svm:{"n_pseudo_negatives": 100}'

Runs are cached in bench/.cache-ranking/compare/ (delete it to rerun); --cached-only prints
the table from finished runs. CPU time per run is process time of the worker.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import statistics as st
import sys
import time
from multiprocessing import Pool
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from screening.ranking import build_features, load_ranker, read_labelled_csv, simulate  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
SETS = DATA / "screening"
BASELINE = DATA / "baselines" / "asreview_elas_u4_dev.json"
CACHE = ROOT / "bench" / ".cache-ranking"

Task = tuple[str, str, list[str], str, str, dict, int]  # set, seed, priors, arm, ranker, params, K


def _path(t: Task) -> Path:
    name, seed, _, arm, _, _, batch = t
    return CACHE / "compare" / f"b{batch}" / arm / f"{name}__{seed}.json"


@functools.lru_cache(maxsize=2)
def _data(name: str) -> tuple:
    data = read_labelled_csv(SETS / f"{name}.csv")
    return data, build_features(data.texts)


def run(t: Task) -> dict:
    """One simulation of one arm (cached)."""
    name, seed, priors, arm, ranker, params, batch = t
    path = _path(t)
    if path.exists():
        return json.loads(path.read_text())
    data, feats = _data(name)
    c0 = time.process_time()
    res = simulate(
        data.texts,
        data.labels,
        seed=int(seed),
        ranker=load_ranker(ranker, random_state=int(seed), **params),
        prior_ids=priors,
        record_ids=data.record_ids,
        features=feats,
        batch_divisor=batch or None,
    )
    cpu = time.process_time() - c0
    out = {"metrics": res.metrics, "cpu_s": cpu, "n_fits": len(res.iteration_s)}
    path.parent.mkdir(parents=True, exist_ok=True)
    if not (CACHE / ".gitignore").exists():
        (CACHE / ".gitignore").write_text("*\n")
    path.write_text(json.dumps(out))
    print(f"  {arm} {name} seed {seed}: wss_95 {res.metrics['wss_95']:.4f}", flush=True)
    return out


def parse_arm(spec: str) -> tuple[str, str, dict]:
    """LABEL=RANKER[:JSON params] -> (label, ranker, params)."""
    label, _, rest = spec.partition("=")
    ranker, _, params = rest.partition(":")
    return label, ranker, json.loads(params) if params else {}


def se(xs: list[float]) -> float:
    """Standard error of the mean (nan for fewer than two values)."""
    return st.stdev(xs) / math.sqrt(len(xs)) if len(xs) > 1 else float("nan")


def table(arms: list[tuple[str, str, dict]], results: dict, base: dict) -> dict:
    """Per-set means over seeds, paired differences of each arm against the first."""
    ref = arms[0][0]
    sets = sorted({k[0] for k in results}, key=lambda n: next(iter(base[n].values()))["n_records"])
    head = " | ".join(f"{a} WSS@95" for a, _, _ in arms)
    diffs_h = " | ".join(f"{a} - {ref} (SE)" for a, _, _ in arms[1:])
    print(f"\n| set | seeds | ELAS u4 JSON | {head} | {diffs_h} |")
    print("|---|---|" + "---:|" * (1 + len(arms) + len(arms) - 1))
    per_set: dict = {}
    for n in sets:
        seeds = [s for s in base[n] if all((n, s, a) in results for a, _, _ in arms)]
        if not seeds:
            continue
        w = {a: [results[(n, s, a)]["metrics"]["wss_95"] for s in seeds] for a, _, _ in arms}
        elas = st.mean(base[n][s]["wss_95"] for s in seeds)
        d = {a: [x - y for x, y in zip(w[a], w[ref], strict=True)] for a, _, _ in arms[1:]}
        per_set[n] = {
            "seeds": seeds,
            "elas": elas,
            "wss": {a: st.mean(v) for a, v in w.items()},
            "diff": {a: (st.mean(v), se(v)) for a, v in d.items()},
        }
        cells = " | ".join(f"{st.mean(w[a]):.4f}" for a, _, _ in arms)
        dc = " | ".join(f"{st.mean(v):+.4f} ({se(v):.4f})" for v in d.values())
        print(f"| {n} | {','.join(seeds)} | {elas:.4f} | {cells} | {dc} |")
    summary: dict = {"sets": per_set, "n_sets": len(per_set)}
    if per_set:
        means = " | ".join(
            f"{st.mean(p['wss'][a] for p in per_set.values()):.4f}" for a, _, _ in arms
        )
        dsum = []
        for a, _, _ in arms[1:]:
            ds = [p["diff"][a][0] for p in per_set.values()]
            summary[a] = {"mean_diff": st.mean(ds), "se": se(ds), "worst": min(ds)}
            dsum.append(f"{st.mean(ds):+.4f} ({se(ds):.4f}; worst {min(ds):+.4f})")
        elas = st.mean(p["elas"] for p in per_set.values())
        print(f"| **mean of {len(per_set)} sets** | | {elas:.4f} | {means} | {' | '.join(dsum)} |")
        for a, _, _ in arms:
            cpu = [results[k]["cpu_s"] for k in results if k[2] == a]
            fits = [results[k]["n_fits"] for k in results if k[2] == a]
            print(
                f"{a}: {len(cpu)} runs, CPU s per run median {st.median(cpu):.1f}, "
                f"total {sum(cpu):.0f}; fits per run median {st.median(fits)}"
            )
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arms", nargs="+", required=True, help="label=ranker[:JSON params]")
    ap.add_argument("--batch", type=int, default=0, help="retrain every n_labelled//K labels")
    ap.add_argument("--seeds", default="1", help="comma-separated prior seeds")
    ap.add_argument("--sets", default="", help="comma-separated set names (default all)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cached-only", action="store_true")
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    base = json.loads(BASELINE.read_text())
    arms = [parse_arm(a) for a in args.arms]
    names = args.sets.split(",") if args.sets else sorted(base)
    seeds = args.seeds.split(",")
    tasks: list[Task] = [
        (n, s, [str(p) for p in base[n][s]["priors"]], a, r, p, args.batch)
        for s in seeds
        for n in sorted(names, key=lambda n: base[n][s]["n_records"])
        for a, r, p in arms
        if s in base[n]
    ]
    key = [(t[0], t[1], t[3]) for t in tasks]
    if args.cached_only:
        results = {
            k: json.loads(_path(t).read_text())
            for k, t in zip(key, tasks, strict=True)
            if _path(t).exists()
        }
    else:
        with Pool(args.workers) as pool:
            results = dict(zip(key, pool.map(run, tasks, chunksize=1), strict=True))
    summary = table(arms, results, base)
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
