"""End-to-end import of 100,000 RIS records into SQLite through review.services.imports.

The file is the one bench/import_parse_bench.py builds: the real RIS samples under
../shared/data/formats/ris repeated with varied fields (title suffix, DOI, year, ID). Each
measurement runs in its own process so its peak memory (max RSS) is its own:

- rispy: ``rispy.loads`` on the same text (rispy's own parse time, tags only);
- import: ``import_file`` into a fresh SQLite file, commit included: records stored per
  second (wall), the CPU of the main process (its own ``importers.parse`` calls and the
  rest: rows, INSERTs, commit) and of the worker process that parses the next pieces of a
  large RIS file meanwhile, and the peak RSS of each.

    .venv/bin/python bench/import_bench.py [--records 100000]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _builder():  # noqa: ANN202 - the parse bench's module
    spec = importlib.util.spec_from_file_location("import_parse_bench",
                                                  ROOT / "bench" / "import_parse_bench.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _peak_mb() -> float:
    """This process's peak RSS (VmHWM: unlike ru_maxrss it does not inherit the parent's
    high-water mark through the fork/exec that started it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phase_rispy(path: Path) -> dict[str, float]:
    """rispy's own parse of the file's text."""
    import rispy

    text = path.read_bytes().decode("utf-8")
    start = (time.perf_counter(), time.process_time())
    entries = rispy.loads(text)
    return {"wall_s": time.perf_counter() - start[0], "cpu_s": time.process_time() - start[1],
            "records": len(entries), "peak_mb": _peak_mb()}


def phase_import(path: Path, workdir: Path) -> dict[str, float]:
    """import_file into a fresh SQLite database, commit included."""
    import review.models  # noqa: F401
    from review.db import Base, make_engine, make_sessionmaker
    from review.services import imports, projects, users

    engine = make_engine(f"sqlite:///{workdir / 'bench.db'}")
    Base.metadata.create_all(engine)
    factory = make_sessionmaker(engine)
    with factory() as session:
        lead = users.create_user(session, email="bench@example.org", name="Bench",
                                 password="bench-password")
        project = projects.create_project(session, title="Bench", lead_id=lead.id)
        session.commit()
        data = path.read_bytes()
        parsing = _time_parsing()
        start = (time.perf_counter(), time.process_time())
        report = imports.import_file(session, project_id=project.id, user_id=lead.id,
                                     source_name="Bench", filename=path.name, data=data)
        session.commit()
        end = (time.perf_counter(), time.process_time())
    # The worker that parses ahead is a child (spawned, then joined): its CPU and peak RSS.
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    out: dict[str, float] = {"records": report.n_imported, "peak_mb": _peak_mb(),
                             "worker_cpu_s": child.ru_utime + child.ru_stime,
                             "worker_peak_mb": child.ru_maxrss / 1024}
    for i, clock in enumerate(("wall", "cpu")):
        out[f"{clock}_s"] = end[i] - start[i]
        out[f"{clock}_parse_s"] = parsing[i]
        out[f"{clock}_store_s"] = end[i] - start[i] - parsing[i]
    return out


def _time_parsing() -> list[float]:
    """Wrap importers.parse (called once per piece) to add up its wall and CPU time."""
    import importers

    spent = [0.0, 0.0]
    parse = importers.parse

    def timed(*args: object, **kwargs: object) -> object:
        t0 = (time.perf_counter(), time.process_time())
        try:
            return parse(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            spent[0] += time.perf_counter() - t0[0]
            spent[1] += time.process_time() - t0[1]

    importers.parse = timed  # type: ignore[assignment]
    return spent


def _run(phase: str, path: Path, workdir: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--phase", phase, "--file", str(path),
                          "--workdir", str(workdir)], check=True, capture_output=True,
                         text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Build the file, run both measurements, print the figures as Markdown."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--phase", choices=("rispy", "import"))
    parser.add_argument("--file", type=Path)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    if args.phase:
        fn = phase_rispy(args.file) if args.phase == "rispy" else \
            phase_import(args.file, args.workdir)
        print(json.dumps(fn))
        return
    build = _builder()
    if not build.RIS_DIR.exists():
        sys.exit(f"shared RIS samples not found at {build.RIS_DIR}")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        path = workdir / "bench.ris"
        path.write_bytes(build.build(args.records))
        size_mb = path.stat().st_size / 1e6
        rispy_run = _run("rispy", path, workdir)
        imported = _run("import", path, workdir)
    n = imported["records"]
    assert n == args.records, imported
    print(f"file: {args.records:,} RIS records, {size_mb:.0f} MB "
          f"({len(build.sample_records())} real samples repeated with varied fields)\n")
    print("| step | wall s | CPU s | records/s (wall) | records/CPU-s | peak RSS |\n"
          "|---|---:|---:|---:|---:|---:|")
    rows = [
        ("rispy.loads alone (tags only, no normalising, nothing stored)", rispy_run, "",
         f"{rispy_run['peak_mb']:,.0f} MB"),
        ("import_file end to end into SQLite (commit included; main process)", imported, "",
         f"**{imported['peak_mb']:,.0f} MB**"),
        ("- of which importers.parse calls in the main process (the whole file if small, "
         "else the first piece)", imported, "parse_", ""),
        ("- of which the rest: later pieces parsed here, waiting for the worker, rows, "
         "INSERTs in chunks of 5,000, commit", imported, "store_", ""),
    ]
    for label, run, key, peak in rows:
        wall, cpu = run[f"wall_{key}s"], run[f"cpu_{key}s"]
        print(f"| {label} | {wall:.1f} | {cpu:.1f} | {n / wall:,.0f} | {n / cpu:,.0f} | {peak} |")
    worker = imported["worker_cpu_s"]
    if worker:
        total = imported["cpu_s"] + worker
        print(f"| worker process parsing the next pieces | | {worker:.1f} | | {n / worker:,.0f} "
              f"| {imported['worker_peak_mb']:,.0f} MB |")
        print(f"| both processes together | | {total:.1f} | | {n / total:,.0f} | |")

if __name__ == "__main__":
    main()
