"""Ranking benchmark: simulated screening on every labelled set, against ASReview ELAS u4.

Quality: for each set in ../shared/data/screening and each prior seed of the ELAS u4 baseline
(../shared/data/baselines/asreview_elas_u4_dev.json: seeds 1, 2, 3, 4, 42), simulate each
Sieve ranker named by --models (registered names, default the app's default) from the very
same prior records, retraining after every label, until every include is found. With
--with-asreview, ASReview 3.0.8's ELAS u4 runs live in the same bench from the same prior rows
(installed into bench/.venv-asreview on first use), retraining after every label and stopping
once 95% of the includes are found and 10% of the records screened (WSS@95, records_to_95 and
recall@10% are exact; --asreview-full runs it to the last include). Its records_to_95 are
checked against the baseline JSON. Without --with-asreview the ELAS u4 column is the JSON's.
Stopping: the hypergeometric rule (and the heuristics) replayed on every Sieve run's order.
Speed: retrain + re-rank after one new label at 10,000 and 100,000 records, Sieve and (with
--with-asreview) ELAS u4 on the same corpus and labels in the same run.

    .venv/bin/python bench/ranking_bench.py quality --with-asreview          # 21 sets x 5 seeds
    .venv/bin/python bench/ranking_bench.py quality --with-asreview --models tfidf-svm-fast,NAME
    .venv/bin/python bench/ranking_bench.py quality --with-asreview --cached-only   # finished runs
    .venv/bin/python bench/ranking_bench.py stopping [--models NAME]
    .venv/bin/python bench/ranking_bench.py speed --with-asreview [--sizes 10000,100000]

Runs are cached per (arm, set, seed) in bench/.cache-ranking/ (git-ignored), so an interrupted
run resumes; delete the cache to rerun from scratch. Paired comparisons of ranker variants
with batched retraining: bench/ranking_compare.py.
"""

from __future__ import annotations

import argparse
import json
import math
import os
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

from screening.ranking import (  # noqa: E402
    DEFAULT_RANKER,
    available_rankers,
    order_metrics,
    read_labelled_csv,
    simulate,
)
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
ASR_VERSION = "3.0.8"
ASR_BASE_PY = os.environ.get("ASREVIEW_BASE_PYTHON", "python3.11")  # ASReview 3 needs >= 3.10


def _mkdir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    # the cache and ASReview's venv stay out of git without touching the project's .gitignore
    for d in (CACHE, ASR_PY.parents[1]):
        if d.exists() and not (d / ".gitignore").exists():
            (d / ".gitignore").write_text("*\n")


def ensure_asreview() -> Path:
    """ASReview 3.0.8 in its own venv (bench/.venv-asreview, git-ignored), created when missing."""
    if not ASR_PY.exists():
        venv = ASR_PY.parents[1]
        print(f"creating {venv} with asreview=={ASR_VERSION} (once)", flush=True)
        subprocess.run([ASR_BASE_PY, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(ASR_PY), "-m", "pip", "install", "-q", f"asreview=={ASR_VERSION}"], check=True
        )
        _mkdir(CACHE)
    return ASR_PY


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
    """One Sieve simulation (cached): the set, the seed, the prior record ids, ranker, params."""
    name, seed, priors, ranker, params = task
    path = _sieve_path(task)
    if path.exists():
        return json.loads(path.read_text())
    data = read_labelled_csv(SETS / f"{name}.csv")
    from screening.ranking import load_ranker

    c0 = time.process_time()
    model = load_ranker(ranker, random_state=int(seed), **params)
    res = simulate(
        data.texts,
        data.labels,
        seed=int(seed),
        ranker=model,
        prior_ids=priors,
        record_ids=data.record_ids,
    )
    out = {
        "metrics": res.metrics,
        "labels": res.order.labels.tolist(),
        "n_prior": len(priors),
        "cpu_s": time.process_time() - c0,
    }
    _mkdir(path.parent)
    path.write_text(json.dumps(out))
    print(f"  {ranker} {name} seed {seed}: wss_95 {res.metrics['wss_95']:.4f}", flush=True)
    return out


def _asr_path(task: tuple[str, str, list[str], float | None]) -> Path:
    name, seed, _, stop_recall = task
    return _cache(
        "asreview-live" + ("" if stop_recall is None else f"-to{stop_recall}"), name, seed
    )


def run_asreview(task: tuple[str, str, list[str], float | None]) -> dict:
    """One live ASReview ELAS u4 simulation in its own venv (cached).

    With a stop recall the run ends once that recall is reached (and 10% of the records are
    screened, so recall@10% stays exact); the unscreened includes are then placed last, so
    WSS@95, records_to_95 and recall@10% are exact and the tail metrics (wss_100, atd,
    recall@25%) are left out (None).
    """
    name, seed, priors, stop_recall = task
    path = _asr_path(task)
    if path.exists():
        return json.loads(path.read_text())
    data = read_labelled_csv(SETS / f"{name}.csv")
    index = {r: i for i, r in enumerate(data.record_ids)}
    rows = [str(index[str(p)]) for p in priors]
    n = len(data.record_ids)
    stop = [] if stop_recall is None else ["--stop-recall", str(stop_recall), "--min-screened"]
    stop += [] if stop_recall is None else [str(math.ceil(0.10 * n))]
    proc = subprocess.run(
        [str(ASR_PY), str(ASR_RUN), str(SETS / f"{name}.csv"), seed, *stop, *rows],
        capture_output=True,
        text=True,
        check=True,
    )
    raw = json.loads(proc.stdout.strip().splitlines()[-1])
    missing = raw["n_included"] - sum(raw["labels"])
    tail = raw["n_records"] - len(raw["labels"])
    labels = raw["labels"] + [0] * (tail - missing) + [1] * missing
    metrics: dict[str, float | int | None] = dict(
        order_metrics(
            labels, wall_s=raw["wall_s"], median_iteration_s=float(np.median(raw["iteration_s"]))
        )
    )
    if tail:
        metrics.update(wss_100=None, atd_frac=None, recall_at_25pct=None)
    out = {
        "metrics": metrics,
        "labels": raw["labels"],
        "n_screened": len(raw["labels"]),
        "cpu_s": raw["cpu_s"],
    }
    _mkdir(path.parent)
    path.write_text(json.dumps(out))
    print(f"  asreview {name} seed {seed}: wss_95 {metrics['wss_95']:.4f}", flush=True)
    return out


def _run(task: tuple) -> tuple[tuple, dict]:
    """Pool entry: ("asreview", task) or ("sieve", task) -> (task, result)."""
    kind, t = task
    return task, (run_asreview(t) if kind == "asreview" else run_sieve(t))


def _mean_se(xs: list[float]) -> tuple[float, float]:
    return st.mean(xs), (st.stdev(xs) / math.sqrt(len(xs)) if len(xs) > 1 else 0.0)


def _seed_se(per_set: list[tuple[float, float]]) -> tuple[float, float]:
    """Mean over sets of per-set means, and its SE from the per-set SEs (seed noise only)."""
    n = len(per_set)
    return st.mean(m for m, _ in per_set), math.sqrt(sum(se * se for _, se in per_set)) / n


def _models(args: argparse.Namespace) -> list[str]:
    models = [m for m in (args.models or args.ranker or DEFAULT_RANKER).split(",") if m]
    for m in models:  # fail before hours of simulation on a misspelt name
        if m not in available_rankers():
            raise SystemExit(f"unknown ranker {m!r}; available: {', '.join(available_rankers())}")
    return models


def quality(args: argparse.Namespace) -> dict:
    """Sieve's rankers (--models) and, with --with-asreview, ELAS u4 live, from the same priors."""
    base = json.loads(BASELINE.read_text())
    names = args.sets.split(",") if args.sets else sorted(p.stem for p in SETS.glob("*.csv"))
    params = json.loads(args.params) if args.params else {}
    models = _models(args)
    seeds = args.seeds.split(",") if args.seeds else None
    base = {n: {s: r for s, r in base[n].items() if seeds is None or s in seeds} for n in names}
    stop_recall = None if args.asreview_full else 0.95
    tasks: list[tuple] = []
    for n in names:
        for s in base[n]:
            priors = [str(p) for p in base[n][s]["priors"]]
            if args.with_asreview:
                tasks.append(("asreview", (n, s, priors, stop_recall)))
            tasks += [("sieve", (n, s, priors, m, params)) for m in models]
    # smallest sets first: under a time limit, more sets get all their runs
    tasks.sort(key=lambda t: (base[t[1][0]][t[1][1]]["n_records"], t[1][1], t[0]))
    if args.with_asreview and not args.cached_only:
        ensure_asreview()
    c0 = time.time()
    results: dict = {}
    if args.cached_only:
        for kind, t in tasks:
            path = _asr_path(t) if kind == "asreview" else _sieve_path(t)
            if path.exists():
                results[(kind, t[0], t[1], "" if kind == "asreview" else t[3])] = json.loads(
                    path.read_text()
                )
    else:
        with Pool(args.workers) as pool:
            for (kind, t), r in pool.imap_unordered(_run, tasks, chunksize=1):
                results[(kind, t[0], t[1], "" if kind == "asreview" else t[3])] = r
    summary = summarize(base, names, models, results, params, args.with_asreview, args.min_seeds)
    summary["wall_s"] = time.time() - c0
    print_quality(summary)
    return summary


def _check_live(base: dict, name: str, results: dict, out: dict) -> None:
    """Put every finished live ELAS u4 run of a set beside the baseline JSON's run."""
    for s, b in base[name].items():
        r = results.get(("asreview", name, s, ""))
        if r is None:
            continue
        out[f"{name}:{s}"] = {
            "live_records_to_95": r["metrics"]["records_to_95"],
            "json_records_to_95": b["records_to_95"],
            "live_wss_95": r["metrics"]["wss_95"],
            "json_wss_95": b["wss_95"],
            "live_recall_at_10pct": r["metrics"]["recall_at_10pct"],
            "json_recall_at_10pct": b["recall_at_10pct"],
        }


def summarize(
    base: dict,
    names: list[str],
    models: list[str],
    results: dict,
    params: dict,
    with_asreview: bool = False,
    min_seeds: int = 1,
) -> dict:
    """Per-set mean and SE over the seeds for ELAS u4 (live, else JSON) and each Sieve model.

    A set's row uses the seeds on which every arm finished (all of them unless a run was cut;
    with_asreview: ELAS u4 live among the arms); sets with fewer than min_seeds are left out.
    """
    rows, live_vs_json = [], {}
    for n in names:
        seeds = [s for s in base[n] if all(("sieve", n, s, m) in results for m in models)]
        if with_asreview:
            seeds = [s for s in seeds if ("asreview", n, s, "") in results]
        _check_live(base, n, results, live_vs_json)
        if len(seeds) < max(1, min_seeds):
            continue
        live = {
            s: results[("asreview", n, s, "")] for s in seeds if ("asreview", n, s, "") in results
        }
        elas = [
            (live[s]["metrics"]["wss_95"] if s in live else base[n][s]["wss_95"]) for s in seeds
        ]
        row: dict = {
            "set": n,
            "n_records": base[n][seeds[0]]["n_records"],
            "n_included": base[n][seeds[0]]["n_included"],
            "seeds": seeds,
            "n_live": len(live),
            "elas": _mean_se(elas),
            "elas_iter_s": st.median(
                live[s]["metrics"]["median_iteration_s"]
                if s in live
                else base[n][s]["iter_median_s"]
                for s in seeds
            ),
            "models": {},
        }
        for m in models:
            ours = [results[("sieve", n, s, m)]["metrics"]["wss_95"] for s in seeds]
            row["models"][m] = {
                "wss_95": _mean_se(ours),
                "diff": _mean_se([a - b for a, b in zip(ours, elas, strict=True)]),
                "iter_s": st.median(
                    results[("sieve", n, s, m)]["metrics"]["median_iteration_s"] for s in seeds
                ),
            }
        rows.append(row)
    overall: dict = {"elas": _seed_se([r["elas"] for r in rows])} if rows else {}
    for m in models:
        if not rows:
            break
        diffs = [r["models"][m]["diff"][0] for r in rows]
        worst = min(rows, key=lambda r: r["models"][m]["diff"][0])
        overall[m] = {
            "wss_95": _seed_se([r["models"][m]["wss_95"] for r in rows]),
            "diff": _mean_se(diffs),
            "worst_set": [worst["set"], worst["models"][m]["diff"][0]],
        }
    match = [v["live_records_to_95"] == v["json_records_to_95"] for v in live_vs_json.values()]
    cpu = {
        "asreview": sum(v["cpu_s"] for k, v in results.items() if k[0] == "asreview"),
        **{
            m: sum(v.get("cpu_s", 0.0) for k, v in results.items() if k[0] == "sieve" and k[3] == m)
            for m in models
        },
    }
    return {
        "models": models,
        "params": params,
        "rows": rows,
        "overall": overall,
        "live_vs_json": live_vs_json,
        "live_equal_json": [sum(match), len(match)],
        "cpu_s": cpu,
    }


def print_quality(s: dict) -> None:
    """Markdown table: one row per set, mean (SE over seeds) of WSS@95 for every arm."""
    models = s["models"]
    print(f"\nSieve models {models} {s['params'] or ''}")
    print("per set: mean over the seeds (SE = sd over the seeds / sqrt(seeds)); mean row: SE")
    print("of the tools' means from the per-set SEs, of the difference from its spread over sets")
    head = "| set | N | incl. | seeds | ELAS u4 (live runs) WSS@95 (SE) |"
    head += "".join(f" {m} (SE) | {m} − ELAS (SE) |" for m in models)
    head += " median iter s ELAS / " + " / ".join(models) + " |"
    print(head)
    print("|---|---:|---:|---:|---:|" + "---:|---:|" * len(models) + "---:|")
    for r in s["rows"]:
        line = (
            f"| {r['set']} | {r['n_records']} | {r['n_included']} | {len(r['seeds'])} | "
            f"{r['elas'][0]:.4f} ({r['elas'][1]:.4f}) [{r['n_live']} live] |"
        )
        for m in models:
            mm = r["models"][m]
            line += (
                f" {mm['wss_95'][0]:.4f} ({mm['wss_95'][1]:.4f}) |"
                f" {mm['diff'][0]:+.4f} ({mm['diff'][1]:.4f}) |"
            )
        iters = " / ".join(f"{r['models'][m]['iter_s']:.4f}" for m in models)
        print(line + f" {r['elas_iter_s']:.4f} / {iters} |")
    if s["rows"]:
        o = s["overall"]
        line = f"| **mean of {len(s['rows'])} sets** | | | |"
        line += f" {o['elas'][0]:.4f} ({o['elas'][1]:.4f}) |"
        for m in models:
            line += (
                f" {o[m]['wss_95'][0]:.4f} ({o[m]['wss_95'][1]:.4f}) |"
                f" {o[m]['diff'][0]:+.4f} ({o[m]['diff'][1]:.4f}) |"
            )
        print(line + " |")
        for m in models:
            print(f"worst set for {m}: {o[m]['worst_set'][0]} {o[m]['worst_set'][1]:+.4f}")
    eq, tot = s["live_equal_json"]
    print(f"live ELAS u4 records_to_95 equal to the baseline JSON: {eq} of {tot} runs")
    for k, v in s["live_vs_json"].items():
        if v["live_records_to_95"] != v["json_records_to_95"]:
            print(f"  differs {k}: {v}")
    print("CPU s of the runs: " + ", ".join(f"{k} {v:.0f}" for k, v in s["cpu_s"].items()))


def _first_stop(labels: list[int], n_total: int, rule, every: int) -> int:
    """Position (records screened) at which the rule first says stop; N if never."""
    y = np.asarray(labels)
    for s in range(every, n_total + 1, every):
        if rule(y[:s], n_total).should_stop:
            return s
    return n_total


def stopping(args: argparse.Namespace) -> dict:
    """Replay the stopping rules on the cached Sieve orders of one model (target recall 0.95).

    Exact for these rules: they read only the labels in screening order, and after the last
    include every label is 0 whatever the order of the tail.
    """
    tag = _models(args)[0]
    rules = {
        "hypergeometric(0.95, 95%)": hypergeometric_stop,
        "knee(156, 150)": knee_stop,
        "consecutive irrelevant (5%, >=50)": consecutive_irrelevant_stop,
    }
    names = set(args.sets.split(",")) if args.sets else None
    seeds = set(args.seeds.split(",")) if args.seeds else None
    out: dict = {name: [] for name in rules}
    files = [
        f
        for f in sorted((CACHE / tag).glob("*.json"))
        if (names is None or f.stem.split("__")[0] in names)
        and (seeds is None or f.stem.split("__")[1] in seeds)
    ]
    for f in files:
        run = json.loads(f.read_text())
        y = run["labels"]
        n, n_inc = len(y), sum(y)
        for name, rule in rules.items():
            every = max(1, n // 200) if name.startswith("hyper") else 1
            stop = _first_stop(y, n, rule, every)
            out[name].append(
                {
                    "set": f.stem.split("__")[0],
                    "seed": f.stem.split("__")[1],
                    "stop": stop,
                    "n": n,
                    "recall": sum(y[:stop]) / n_inc,
                    "saved": 1 - stop / n,
                    "to95": records_to_recall(y, 0.95),
                }
            )
    n_sets = len({f.stem.split("__")[0] for f in files})
    print(f"\nstopping rules on {len(files)} runs of {tag} ({n_sets} sets; target recall 0.95)")
    print(
        "| rule | runs | share with recall >= 0.95 | mean recall at stop | min recall "
        "| mean work saved | mean work saved by an oracle stop at 95% |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, rs in out.items():
        if not rs:
            continue
        print(
            f"| {name} | {len(rs)} | {_ok(rs):.3f} | {st.mean(r['recall'] for r in rs):.3f} | "
            f"{min(r['recall'] for r in rs):.3f} | {st.mean(r['saved'] for r in rs):.3f} | "
            f"{st.mean(1 - r['to95'] / r['n'] for r in rs):.3f} |"
        )
    print("\nper set: share of runs with recall >= 0.95 / mean work saved")
    print("| set | runs | " + " | ".join(rules) + " | oracle saved at 95% |")
    print("|---|---:|" + "---:|" * (len(rules) + 1))
    for n in sorted({r["set"] for rs in out.values() for r in rs}):
        per = {name: [r for r in rs if r["set"] == n] for name, rs in out.items()}
        first = next(iter(per.values()))
        cells = " | ".join(
            f"{_ok(rs):.2f} / {st.mean(r['saved'] for r in rs):.3f}" for rs in per.values()
        )
        oracle = st.mean(1 - r["to95"] / r["n"] for r in first)
        print(f"| {n} | {len(first)} | {cells} | {oracle:.3f} |")
    return out


def _ok(rs: list[dict]) -> float:
    """Share of runs whose recall at the stop is at least 0.95."""
    return sum(r["recall"] >= 0.95 - 1e-9 for r in rs) / len(rs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["quality", "stopping", "speed"])
    ap.add_argument(
        "--models",
        default="",
        help=f"comma-separated registered Sieve rankers (default {DEFAULT_RANKER})",
    )
    ap.add_argument("--ranker", default="", help="one ranker (same as --models NAME)")
    ap.add_argument("--params", default="", help='JSON ranker parameters, e.g. {"C": 0.2}')
    ap.add_argument("--sets", default="", help="comma-separated set names (default all)")
    ap.add_argument("--seeds", default="", help="comma-separated prior seeds (default all)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cached-only", action="store_true", help="table from finished runs only")
    ap.add_argument(
        "--min-seeds", type=int, default=1, help="table: leave out sets with fewer finished seeds"
    )
    ap.add_argument("--with-asreview", action="store_true")
    ap.add_argument(
        "--asreview-full",
        action="store_true",
        help="run ELAS u4 to the last include (default: stop at 95%% recall and 10%% screened)",
    )
    ap.add_argument("--sizes", default="10000,100000", help="speed: corpus sizes")
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    t0 = time.perf_counter()
    if args.what == "speed" and args.with_asreview:
        ensure_asreview()
    result = {"quality": quality, "stopping": stopping, "speed": speed_main}[args.what](args)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1, default=str))
    print(f"\n({args.what} took {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
