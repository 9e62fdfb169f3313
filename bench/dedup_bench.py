"""Deduplication benchmark: accuracy on the labelled sets, speed and memory on 10k-100k records.

Run from the project root:

    .venv/bin/python bench/dedup_bench.py            # everything (about 2 minutes)
    .venv/bin/python bench/dedup_bench.py --sets     # labelled sets only
    .venv/bin/python bench/dedup_bench.py --speed    # synthetic 10k/50k/100k only

Definitions are in bench/dedup_eval.py and bench/RESULTS.md ("Deduplication").
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dedup_data import DATA, SETS, load_set  # noqa: E402
from dedup_eval import evaluate  # noqa: E402
from dedup_misses import categorise  # noqa: E402

from screening.dedup import find_duplicates  # noqa: E402

LISTED = ("rathbone2015_haematology", "bibdedupe_special_cases", "bibdedupe_tests_small")


def _pair_state(result, a: str, b: str) -> str:  # type: ignore[no-untyped-def]
    """What the engine did with a pair: review (directly or between their groups) or nothing."""
    group = {rid: g[0] for g in result.groups for rid in g}
    ga, gb = group.get(a, a), group.get(b, b)
    for p in result.pairs:
        if p.decision == "review" and {group.get(p.a, p.a), group.get(p.b, p.b)} == {ga, gb}:
            return "review"
    return "not paired"


def _runs(name: str):  # type: ignore[no-untyped-def]
    """The runs of one set: all records; and, where the file marks an already deduplicated
    search (source_db "old_search", bib-dedupe's convention), the incremental run it implies."""
    records, truth = load_set(name)
    yield name, records, truth, None
    if any(r.source == "old_search" for r in records):
        new_ids = {r.id for r in records if r.source != "old_search"}
        yield f"{name} (old_search already deduplicated)", records, truth, new_ids


def run_sets() -> None:
    print("| set | records | true pairs | auto recall | recall with queue | record sensitivity"
          " (ASySD's measure) | false merged records (per 1,000) | review items (% of records) |"
          " seconds |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    details = []
    for name in SETS:
        if not (DATA / f"{name}.csv").exists():
            print(f"| {name} | absent | | | | | | |")
            continue
        for label, records, truth, new_ids in _runs(name):
            start = time.perf_counter()
            result = find_duplicates(records, new_ids=new_ids)
            seconds = time.perf_counter() - start
            e = evaluate(result, truth)
            _row(label, e, seconds)
            details.append((label, result, e))
    for name, result, e in details:
        if not name.startswith(LISTED):
            continue
        print(f"\n{name}: true pairs not merged automatically ({len(e['missed_auto'])}), "
              f"false merges ({len(e['false_pairs'])})\n")
        print("| pair | engine | category | note |")
        print("|---|---|---|---|")
        for a, b in e["missed_auto"]:
            category, note = categorise(a, b)
            print(f"| {a} / {b} | {_pair_state(result, a, b)} | {category} | {note} |")
        for a, b in e["false_pairs"]:
            category, note = categorise(a, b)
            print(f"| {a} / {b} | FALSE MERGE | {category} | {note} |")


def _row(name: str, e: dict, seconds: float) -> None:  # type: ignore[type-arg]
    print(f"| {name} | {e['records']} | {e['true_pairs']} | {e['auto_recall']:.4f} | "
        f"{e['queue_recall']:.4f} | {e['record_sensitivity']:.4f} | {e['false_merged_records']} "
        f"({e['false_merges_per_1000']:.2f}) | {e['review_items']} "
        f"({100 * e['review_share']:.1f}%) | {seconds:.2f} |")


def run_one(n: int, new_share: float) -> dict[str, float]:
    """Time one synthetic run in this process (called in a fresh subprocess per size)."""
    from dedup_synth import synthetic

    records, truth = synthetic(n)
    rss_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    new_ids = None
    if new_share:
        new_ids = {r.id for r in records[int(n * (1 - new_share)):]}
    start, cpu = time.perf_counter(), time.process_time()
    result = find_duplicates(records, new_ids=new_ids)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    out = {"n": n, "seconds": seconds, "cpu_seconds": cpu, "load": os.getloadavg()[0],
           "candidate_pairs": result.stats["candidate_pairs"],
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           "rss_after_data_mb": rss_data,
           **{k: v for k, v in result.stats.items() if k.startswith("seconds_")}}
    if not new_share:
        e = evaluate(result, truth)
        out.update(auto_recall=e["auto_recall"], queue_recall=e["queue_recall"],
                   false_merged=e["false_merged_records"], review_items=e["review_items"])
    return out


def run_speed() -> None:
    print("\n| records | mode | candidate pairs | wall s (normalise/block/compare/decide/group)"
          " | CPU s | load avg | peak RSS MB (data alone) | auto recall | recall with queue |"
          " false merged | review items |")
    print("|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for n, share in ((10_000, 0.0), (50_000, 0.0), (100_000, 0.0), (100_000, 0.1)):
        proc = subprocess.run([sys.executable, __file__, "--one", str(n), str(share)],
                              capture_output=True, text=True, check=True)
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        phases = "/".join(f"{r['seconds_' + k]:.1f}" for k in
                          ("normalise", "blocking", "compare", "decide", "group"))
        mode = "full" if not share else f"incremental ({share:.0%} new)"
        print(f"| {n:,} | {mode} | {r['candidate_pairs']:,.0f} | {r['seconds']:.1f} ({phases}) |"
              f" {r['cpu_seconds']:.1f} | {r['load']:.1f} |"
              f" {r['peak_rss_mb']:.0f} ({r['rss_after_data_mb']:.0f}) |"
              f" {r.get('auto_recall', float('nan')):.4f} |"
              f" {r.get('queue_recall', float('nan')):.4f} | {r.get('false_merged', '-')} |"
              f" {r.get('review_items', '-')} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sets", action="store_true", help="labelled sets only")
    parser.add_argument("--speed", action="store_true", help="synthetic speed runs only")
    parser.add_argument("--one", nargs=2, metavar=("N", "NEW_SHARE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(int(args.one[0]), float(args.one[1]))))
        return
    if not args.speed:
        run_sets()
    if not args.sets:
        run_speed()


if __name__ == "__main__":
    main()
