"""Speed part of the ranking bench: retrain + re-rank after one new label at 10k and 100k."""

from __future__ import annotations

import argparse
import csv
import json
import os
import pickle
import statistics as st
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from screening.ranking import (
    DEFAULT_RANKER,
    FEATURES_VERSION,
    Features,
    build_features,
    rank,
    read_labelled_csv,
)

HERE = Path(__file__).resolve().parent
SETS = HERE.parents[1] / "shared" / "data" / "screening"
ASR_PY = HERE / ".venv-asreview" / "bin" / "python"
CACHE = HERE / ".cache-ranking"


def corpus(n: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Real records of all sets; beyond their ~32k, copies with their sentences reshuffled.

    Reshuffled copies keep the vocabulary and lengths real while no two texts are identical.
    """
    texts: list[str] = []
    labels: list[int] = []
    for f in sorted(SETS.glob("*.csv")):
        d = read_labelled_csv(f)
        texts += d.texts
        labels += d.labels.tolist()
    rng = np.random.default_rng(seed)
    base = len(texts)
    while len(texts) < n:
        i = int(rng.integers(base))
        parts = texts[i].split(". ")
        rng.shuffle(parts)
        texts.append(". ".join(parts))
        labels.append(labels[i])
    idx = rng.permutation(len(texts))[:n]
    return [texts[i] for i in idx], np.asarray(labels)[idx]


def _features(n: int) -> tuple[Features, np.ndarray, float]:
    """The corpus's features, built once and pickled in the bench cache (build CPU s kept)."""
    path = CACHE / f"speed_features_{n}_{FEATURES_VERSION}.pkl"
    if path.exists():
        with path.open("rb") as fh:
            feats, y, build_cpu = pickle.load(fh)
        feats.matrix.sort_indices()  # as build_features leaves it (a no-op when sorted)
        return feats, y, build_cpu
    texts, y = corpus(n)
    c0 = time.process_time()
    feats = build_features(texts)
    out = (feats, y, time.process_time() - c0)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        pickle.dump(out, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return out


def _one(feats: Features, labels: dict[int, int], ranker: str) -> tuple[float, float]:
    """CPU (this process) and wall seconds of one rank() call: retrain + score every row."""
    c0, w0 = time.process_time(), time.perf_counter()
    rank(feats, labels, ranker=ranker, random_state=0)
    return time.process_time() - c0, time.perf_counter() - w0


def time_retrain(
    n: int, label_counts: tuple[int, ...], rankers: tuple[str, ...], repeats: int = 7
) -> list[dict]:
    """Median time of rank() (retrain + score all rows) after each of `repeats` new labels.

    Labels are a random sample of the corpus with their true labels (~4.5% includes, as in
    the screening sets), at least one include; each repeat adds one more label.
    """
    feats, y, build_cpu = _features(n)
    out = []
    for n_lab in label_counts:
        rows = np.random.default_rng(1).permutation(n)
        # make sure both classes are present, as in a real screening session
        inc = np.flatnonzero(y[rows] == 1)[:1]
        chosen = list(dict.fromkeys([int(rows[inc[0]]), *map(int, rows[:n_lab])]))[:n_lab]
        extra = [int(r) for r in rows[n_lab : n_lab + repeats]]
        for ranker in rankers:
            labels = {r: int(y[r]) for r in chosen}
            cpu, wall = [], []
            for r in extra:
                labels[r] = int(y[r])
                c, w = _one(feats, labels, ranker)
                cpu.append(c)
                wall.append(w)
            out.append(
                {
                    "ranker": ranker,
                    "n_records": n,
                    "n_labels": n_lab,
                    "median_cpu_s": st.median(cpu),
                    "median_wall_s": st.median(wall),
                    "max_wall_s": max(wall),
                    "features_cpu_s": build_cpu,
                    "n_features": feats.matrix.shape[1],
                    "nnz": feats.matrix.nnz,
                }
            )
            print(f"  {out[-1]}", flush=True)
    return out


def asreview_speed(n: int, label_counts: tuple[int, ...]) -> dict:
    """ELAS u4's time per iteration on the same corpus, in ASReview's own venv.

    The same 7 repeats as Sieve's rows: each adds one label, fits and ranks the pool.
    """
    texts, y = corpus(n)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "speed.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["title", "abstract", "label_included"])
            w.writerows([t, "", int(lab)] for t, lab in zip(texts, y, strict=True))
        proc = subprocess.run(
            [
                str(ASR_PY),
                str(HERE / "ranking_asreview_run.py"),
                "--speed",
                str(path),
                *map(str, label_counts),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def speed_main(args: argparse.Namespace) -> dict:
    """Speed table: Sieve's rankers and, with --with-asreview, ELAS u4, at each corpus size.

    Both tools get the same corpus (same texts and labels), the same label counts and the same
    number of repeats, in one run; CPU seconds of the timing process beside wall seconds.
    """
    models = [m for m in (getattr(args, "models", "") or "").split(",") if m]
    rankers = tuple(dict.fromkeys(models or ("tfidf-svm", DEFAULT_RANKER)))
    sizes = [int(x) for x in (getattr(args, "sizes", "") or "10000,100000").split(",")]
    label_counts = (200, 1_000, 3_000)
    load = {"before": os.getloadavg()}
    print(f"load average before: {load['before']}", flush=True)
    rows = []
    asr: dict = {}
    for n in sizes:
        rows += time_retrain(n, label_counts, rankers)
        if args.with_asreview:
            asr[n] = asreview_speed(n, label_counts)
            print(f"  asreview {n}: {asr[n]}", flush=True)
    load["after"] = os.getloadavg()
    print(f"load average after: {load['after']}")
    print(
        "| tool / ranker | records | labels | median CPU s | median wall s | max wall s |"
        " features built once: CPU s (wall s) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for n in sizes:
        for r in (r for r in rows if r["n_records"] == n):
            print(
                f"| Sieve {r['ranker']} | {n} | {r['n_labels']} | {r['median_cpu_s']:.4f} | "
                f"{r['median_wall_s']:.4f} | {r['max_wall_s']:.4f} | "
                f"{r['features_cpu_s']:.1f} |"
            )
        if n in asr:
            a = asr[n]
            for r in a["runs"]:
                print(
                    f"| ASReview 3.0.8 ELAS u4 | {n} | {r['n_labels']} | "
                    f"{r['median_cpu_s']:.4f} | {r['median_s']:.4f} | {r['max_s']:.4f} | "
                    f"{a['transform_cpu_s']:.1f} ({a['transform_s']:.1f}) |"
                )
    return {"sieve": rows, "asreview": asr, "load": load}
