"""Speed part of the ranking bench: retrain + re-rank after one new label at 10k and 100k."""

from __future__ import annotations

import argparse
import csv
import json
import statistics as st
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from screening.ranking import build_features, rank, read_labelled_csv

HERE = Path(__file__).resolve().parent
SETS = HERE.parents[1] / "shared" / "data" / "screening"
ASR_PY = HERE / ".venv-asreview" / "bin" / "python"


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


def time_retrain(n: int, label_counts: tuple[int, ...], repeats: int = 11) -> list[dict]:
    """Median time of rank() (retrain + score all rows) after each of `repeats` new labels."""
    texts, y = corpus(n)
    t0 = time.perf_counter()
    feats = build_features(texts)
    build_s = time.perf_counter() - t0
    rng = np.random.default_rng(1)
    out = []
    for n_lab in label_counts:
        rows = rng.permutation(n)
        # make sure both classes are present, as in a real screening session
        inc = np.flatnonzero(y[rows] == 1)[:1]
        chosen = list(dict.fromkeys([int(rows[inc[0]]), *map(int, rows[:n_lab])]))[:n_lab]
        labels = {r: int(y[r]) for r in chosen}
        extra = [int(r) for r in rows[n_lab : n_lab + repeats]]
        times = []
        for r in extra:
            labels[r] = int(y[r])
            t = time.perf_counter()
            rank(feats, labels, random_state=0)
            times.append(time.perf_counter() - t)
        out.append(
            {
                "n_records": n,
                "n_labels": n_lab,
                "median_s": st.median(times),
                "max_s": max(times),
                "features_s": build_s,
                "n_features": feats.matrix.shape[1],
                "nnz": feats.matrix.nnz,
            }
        )
    return out


def asreview_speed(n: int, label_counts: tuple[int, ...]) -> dict:
    """ELAS u4's time per iteration on the same corpus, in ASReview's own venv."""
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
    rows = time_retrain(10_000, (200, 1_000, 3_000)) + time_retrain(100_000, (500, 2_000, 10_000))
    print(
        "| records | labels | median retrain+re-rank s | max s | features built once in s |"
        " features | nnz |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['n_records']} | {r['n_labels']} | {r['median_s']:.4f} | {r['max_s']:.4f} | "
            f"{r['features_s']:.1f} | {r['n_features']} | {r['nnz']} |"
        )
    result: dict = {"sieve": rows}
    if args.with_asreview:
        asr = asreview_speed(10_000, (200, 1_000, 3_000))
        result["asreview"] = asr
        print(f"\nASReview 3.0.8 ELAS u4, 10,000 records: TF-IDF fit {asr['transform_s']:.1f} s")
        for r in asr["runs"]:
            print(f"  {r['n_labels']} labels: median retrain + re-rank {r['median_s']:.4f} s")
    return result
