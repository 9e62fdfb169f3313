"""Parse speed of 100,000 RIS records: importers.parse (parse + normalise) vs rispy alone.

The file is built by repeating the real RIS samples under ../shared/data/formats/ris with
varied fields (title suffix, DOI, year, ID), so records look like real exports.

    .venv/bin/python bench/import_parse_bench.py [--records 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import time
from pathlib import Path

import rispy

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import importers  # noqa: E402
from importers import ris  # noqa: E402
from importers.encoding import decode  # noqa: E402

RIS_DIR = ROOT.parent / "shared" / "data" / "formats" / "ris"


def sample_records() -> list[list[str]]:
    """The real RIS records (as lists of lines) from the shared samples."""
    records: list[list[str]] = []
    for path in sorted(RIS_DIR.glob("*")):
        text, _ = decode(path.read_bytes())
        current: list[str] = []
        for line in text.split("\n"):
            if line.startswith("TY  -"):
                current = [line]
            elif line.startswith("ER  -") and current:
                records.append(current)
                current = []
            elif current:
                current.append(line)
    return [r for r in records if any(line.startswith(("TI", "T1")) for line in r)]


def build(n: int) -> bytes:
    """n records cycling through the samples, each with its own title, DOI, year and ID."""
    samples = sample_records()
    out: list[str] = []
    for i in range(n):
        base = samples[i % len(samples)]
        for line in base:
            tag = line[:2]
            if tag in ("TI", "T1"):
                line = f"{line} (variant {i})"
            elif tag in ("DO", "ID", "PY"):
                continue
            out.append(line)
        out.append(f"ID  - bench{i}")
        out.append(f"PY  - {1990 + i % 35}")
        out.append(f"DO  - 10.{5000 + i % 400}/bench.{i}")
        out.append("ER  - ")
        out.append("")
    return "\n".join(out).encode("utf-8")


def timed(label: str, fn, repeat: int) -> float:
    """Best wall time of `repeat` runs; CPU time is printed too (the machine may be shared)."""
    best = cpu_best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        best = min(best, time.perf_counter() - start)
        cpu_best = min(cpu_best, time.process_time() - cpu)
    print(f"{label:<48} best of {repeat}: {best:7.2f} s wall, {cpu_best:7.2f} s CPU")
    return cpu_best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--memory", action="store_true",
                        help="only parse once and report this process's peak RSS")
    args = parser.parse_args()
    if not RIS_DIR.exists():
        sys.exit(f"shared RIS samples not found at {RIS_DIR}")
    data = build(args.records)
    if args.memory:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        result = importers.parse(data, filename="bench.ris")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{len(result.records):,} records; peak RSS {before:,.0f} MB after building the "
              f"{len(data) / 1e6:.0f} MB file, {peak:,.0f} MB after one parse "
              f"(+{peak - before:,.0f} MB)")
        return
    text = data.decode("utf-8")
    print(f"file: {args.records:,} records, {len(data) / 1e6:.1f} MB, "
          f"{len(sample_records())} distinct real samples")
    result = importers.parse(data, filename="bench.ris")
    assert len(result.records) == args.records, (len(result.records), len(result.problems))
    t_rispy = timed("rispy.loads (tags only, no normalising)", lambda: rispy.loads(text),
                    args.repeat)
    t_split = timed("importers.ris record splitting only", lambda: ris.count_records(text),
                    args.repeat)
    t_full = timed("importers.parse (decode+sniff+parse+normalise)",
                   lambda: importers.parse(data, filename="bench.ris"), args.repeat)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    n = args.records
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; "
          "rates below use CPU time")
    print(f"rispy.loads:       {n / t_rispy:9,.0f} records/s")
    print(f"importers (split): {n / t_split:9,.0f} records/s")
    print(f"importers.parse:   {n / t_full:9,.0f} records/s  "
          f"({t_full / t_rispy:.2f}x rispy's time)")
    print(f"peak RSS of this process: {peak:,.0f} MB")


if __name__ == "__main__":
    main()
