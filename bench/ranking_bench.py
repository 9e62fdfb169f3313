"""Ranking benchmark: simulated screening on every labelled set, against ASReview ELAS u4.

Quality: for each set in ../shared/data/screening and each prior seed of the ELAS u4 baseline
(../shared/data/baselines/asreview_elas_u4_dev.json), simulate Sieve's ranker from the very
same prior records, retraining after every label, until every include is found (ASReview's
simulation stops there too). ELAS u4's figures come from the JSON, or are run live with
--with-asreview (ASReview 3.0.8 installed into bench/.venv-asreview) on the sets named.
Stopping: the hypergeometric rule (and the heuristics) replayed on every Sieve run's order.
Speed: retrain + re-rank after one new label at 10,000 and 100,000 records.

    .venv/bin/python bench/ranking_bench.py quality [--ranker tfidf-svm] [--workers 2]
    .venv/bin/python bench/ranking_bench.py quality --with-asreview --asreview-sets a,b
    .venv/bin/python bench/ranking_bench.py stopping
    .venv/bin/python bench/ranking_bench.py speed [--sizes 10000,100000] [--with-asreview]

Runs are cached in bench/.cache-ranking/ (delete it to rerun from scratch). Paired comparisons
of ranker variants (same priors, optionally batched retraining): bench/ranking_compare.py.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics as st
import subprocess
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ranking_speed import speed_main  # noqa: E402

from screening.ranking import order_metrics, read_labelled_csv, simulate  # noqa: E402
from screening.ranking.metrics import records_to_recall  # noqa: E402
from screening.stopping import (  # noqa: E402
    consecutive_irrelevant_stop,
    hypergeometric_stop,
    knee_stop,
)

DATA = ROOT.parent / "shared" / "data"
SETS = DATA / "screening"
BASELINE = DATA / "baselines" / "asreview_elas_u4_dev.json"
CACHE = ROOT / "bench" / ".cache-ranking"
ASR_PY = ROOT / "bench" / ".venv-asreview" / "bin" / "python"
ASR_RUN = ROOT / "bench" / "ranking_asreview_run.py"


def _mkdir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    # the cache and ASReview's venv stay out of git without touching the project's .gitignore
    for d in (CACHE, ASR_PY.parents[1]):
        if d.exists() and not (d / ".gitignore").exists():
            (d / ".gitignore").write_text("*\n")


def _cache(kind: str, name: str, seed: str) -> Path:
    return CACHE / kind / f"{name}__{seed}.json"


def _sieve_path(task: tuple[str, str, list[str], str, dict]) -> Path:
    name, seed, _, ranker, params = task
    tag = ranker + ("" if not params else "_" + "_".join(f"{k}{v}" for k, v in params.items()))
    return _cache(tag, name, seed)


def _cached(task: tuple[str, str, list[str], str, dict]) -> dict | None:
    path = _sieve_path(task)
    return json.loads(path.read_text()) if path.exists() else None


def run_sieve(task: tuple[str, str, list[str], str, dict]) -> dict:
    """One Sieve simulation (cached): the set, the seed, the prior record ids."""
    name, seed, priors, ranker, params = task
    path = _sieve_path(task)
    if path.exists():
        return json.loads(path.read_text())
    data = read_labelled_csv(SETS / f"{name}.csv")
    from screening.ranking import load_ranker

    model = load_ranker(ranker, random_state=int(seed), **params)
    res = simulate(
        data.texts,
        data.labels,
        seed=int(seed),
        ranker=model,
        prior_ids=priors,
        record_ids=data.record_ids,
    )
    out = {"metrics": res.metrics, "labels": res.order.labels.tolist(), "n_prior": len(priors)}
    _mkdir(path.parent)
    path.write_text(json.dumps(out))
    print(f"  sieve {name} seed {seed}: wss_95 {res.metrics['wss_95']:.4f}", flush=True)
    return out


def run_asreview(task: tuple[str, str, list[str]]) -> dict:
    """One live ASReview ELAS u4 simulation in its own venv (cached)."""
    name, seed, priors = task
    path = _cache("asreview-live", name, seed)
    if path.exists():
        return json.loads(path.read_text())
    data = read_labelled_csv(SETS / f"{name}.csv")
    index = {r: i for i, r in enumerate(data.record_ids)}
    rows = [str(index[str(p)]) for p in priors]
    proc = subprocess.run(
        [str(ASR_PY), str(ASR_RUN), str(SETS / f"{name}.csv"), seed, *rows],
        capture_output=True,
        text=True,
        check=True,
    )
    raw = json.loads(proc.stdout.strip().splitlines()[-1])
    labels = raw["labels"] + [0] * (raw["n_records"] - len(raw["labels"]))
    metrics = order_metrics(
        labels, wall_s=raw["wall_s"], median_iteration_s=float(np.median(raw["iteration_s"]))
    )
    out = {"metrics": metrics, "labels": labels}
    _mkdir(path.parent)
    path.write_text(json.dumps(out))
    print(f"  asreview {name} seed {seed}: wss_95 {metrics['wss_95']:.4f}", flush=True)
    return out


def _mean_se(xs: list[float]) -> tuple[float, float]:
    return st.mean(xs), (st.stdev(xs) / math.sqrt(len(xs)) if len(xs) > 1 else 0.0)


def quality(args: argparse.Namespace) -> dict:
    base = json.loads(BASELINE.read_text())
    names = args.sets.split(",") if args.sets else sorted(base)
    params = json.loads(args.params) if args.params else {}
    seeds = args.seeds.split(",") if args.seeds else None
    base = {n: {s: r for s, r in base[n].items() if seeds is None or s in seeds} for n in names}
    tasks = [
        (n, s, [str(p) for p in base[n][s]["priors"]], args.ranker, params)
        for n in names
        for s in base[n]
    ]
    # smallest sets first: under a time limit, more sets get their runs
    tasks.sort(key=lambda t: (base[t[0]][t[1]]["n_records"], t[1]))
    if args.cached_only:
        sieve = {(t[0], t[1]): r for t in tasks if (r := _cached(t)) is not None}
    else:
        with Pool(args.workers) as pool:
            done = pool.map(run_sieve, tasks, chunksize=1)
        sieve = dict(zip([(t[0], t[1]) for t in tasks], done, strict=True))
    # compare on the seeds both have (all of them unless --cached-only cut runs short)
    base = {n: {s: r for s, r in base[n].items() if (n, s) in sieve} for n in names}
    names = [n for n in names if base[n]]
    live: dict = {}
    if args.with_asreview:
        live_names = args.asreview_sets.split(",") if args.asreview_sets else names
        seeds = args.asreview_seeds.split(",") if args.asreview_seeds else None
        atasks = [
            (n, s, [str(p) for p in base[n][s]["priors"]])
            for n in live_names
            for s in base[n]
            if seeds is None or s in seeds
        ]
        with Pool(args.workers) as pool:
            live = dict(
                zip([(t[0], t[1]) for t in atasks], pool.map(run_asreview, atasks), strict=True)
            )
    rows, diffs = [], []
    for n in names:
        ours = [sieve[(n, s)]["metrics"]["wss_95"] for s in base[n]]
        theirs = [base[n][s]["wss_95"] for s in base[n]]
        paired = [a - b for a, b in zip(ours, theirs, strict=True)]
        lv = [live[(n, s)]["metrics"]["wss_95"] for s in base[n] if (n, s) in live]
        rows.append(
            {
                "set": n,
                "sieve": _mean_se(ours),
                "elas_json": _mean_se(theirs),
                "diff": _mean_se(paired),
                "elas_live": _mean_se(lv) if lv else None,
                "n_live": len(lv),
                "sieve_r10": st.mean(sieve[(n, s)]["metrics"]["recall_at_10pct"] for s in base[n]),
                "elas_r10": st.mean(base[n][s]["recall_at_10pct"] for s in base[n]),
                "sieve_iter_s": st.median(
                    sieve[(n, s)]["metrics"]["median_iteration_s"] for s in base[n]
                ),
                "elas_iter_s": st.median(base[n][s]["iter_median_s"] for s in base[n]),
            }
        )
        diffs.append(st.mean(paired))
    summary = {
        "ranker": args.ranker,
        "params": params,
        "rows": rows,
        "mean_sieve": st.mean(r["sieve"][0] for r in rows),
        "mean_elas_json": st.mean(r["elas_json"][0] for r in rows),
        "mean_diff": st.mean(diffs),
        "worst_diff": min(diffs),
        "live_vs_json": {
            f"{k[0]}:{k[1]}": [v["metrics"]["wss_95"], base[k[0]][k[1]]["wss_95"]]
            for k, v in live.items()
        },
    }
    print_quality(summary)
    return summary


def print_quality(s: dict) -> None:
    print(f"\nranker {s['ranker']} {s['params']}")
    print(
        "| set | Sieve WSS@95 (SE) | ELAS u4 JSON (SE) | paired diff (SE) | ELAS u4 live (n) "
        "| recall@10% Sieve / ELAS | median iter s Sieve / ELAS |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in s["rows"]:
        live = f"{r['elas_live'][0]:.4f} ({r['n_live']})" if r["elas_live"] else "-"
        print(
            f"| {r['set']} | {r['sieve'][0]:.4f} ({r['sieve'][1]:.4f}) | "
            f"{r['elas_json'][0]:.4f} ({r['elas_json'][1]:.4f}) | "
            f"{r['diff'][0]:+.4f} ({r['diff'][1]:.4f}) | {live} | "
            f"{r['sieve_r10']:.3f} / {r['elas_r10']:.3f} | "
            f"{r['sieve_iter_s']:.4f} / {r['elas_iter_s']:.4f} |"
        )
    print(
        f"| **mean** | {s['mean_sieve']:.4f} | {s['mean_elas_json']:.4f} | "
        f"{s['mean_diff']:+.4f} (worst set {s['worst_diff']:+.4f}) | | | |"
    )


def _first_stop(labels: list[int], n_total: int, rule, every: int) -> int:
    """Position (records screened) at which the rule first says stop; N if never."""
    y = np.asarray(labels)
    for s in range(every, n_total + 1, every):
        if rule(y[:s], n_total).should_stop:
            return s
    return n_total


def stopping(args: argparse.Namespace) -> dict:
    """Replay the stopping rules on the cached Sieve orders (target recall 0.95)."""
    tag = args.ranker
    rules = {
        "hypergeometric(0.95, 95%)": hypergeometric_stop,
        "knee(156, 150)": knee_stop,
        "consecutive irrelevant (5%, >=50)": consecutive_irrelevant_stop,
    }
    out: dict = {name: [] for name in rules}
    files = sorted((CACHE / tag).glob("*.json"))
    for f in files:
        run = json.loads(f.read_text())
        y = run["labels"]
        n, n_inc = len(y), sum(y)
        for name, rule in rules.items():
            every = max(1, n // 200) if name.startswith("hyper") else 1
            stop = _first_stop(y, n, rule, every)
            out[name].append(
                {
                    "run": f.stem,
                    "stop": stop,
                    "n": n,
                    "recall": sum(y[:stop]) / n_inc,
                    "saved": 1 - stop / n,
                    "to95": records_to_recall(y, 0.95),
                }
            )
    print(f"\nstopping rules on {len(files)} Sieve runs (target recall 0.95)")
    print(
        "| rule | runs | share with recall >= 0.95 | mean recall at stop | min recall "
        "| mean work saved | mean work saved by an oracle stop at 95% |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, rs in out.items():
        ok = sum(r["recall"] >= 0.95 - 1e-9 for r in rs) / len(rs)
        print(
            f"| {name} | {len(rs)} | {ok:.3f} | {st.mean(r['recall'] for r in rs):.3f} | "
            f"{min(r['recall'] for r in rs):.3f} | {st.mean(r['saved'] for r in rs):.3f} | "
            f"{st.mean(1 - r['to95'] / r['n'] for r in rs):.3f} |"
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["quality", "stopping", "speed"])
    ap.add_argument("--ranker", default="tfidf-svm")
    ap.add_argument("--params", default="", help='JSON ranker parameters, e.g. {"C": 0.2}')
    ap.add_argument("--sets", default="", help="comma-separated set names (default all)")
    ap.add_argument("--seeds", default="", help="comma-separated prior seeds (default all)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cached-only", action="store_true", help="table from finished runs only")
    ap.add_argument("--with-asreview", action="store_true")
    ap.add_argument("--asreview-sets", default="")
    ap.add_argument("--asreview-seeds", default="")
    ap.add_argument("--sizes", default="10000,100000", help="speed: corpus sizes")
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    t0 = time.perf_counter()
    result = {"quality": quality, "stopping": stopping, "speed": speed_main}[args.what](args)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1, default=str))
    print(f"\n({args.what} took {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
