"""End-to-end import of 100,000 RIS records into SQLite (or PostgreSQL) via review.services.imports.

The file is the one bench/import_parse_bench.py builds: the real RIS samples under
../shared/data/formats/ris repeated with varied fields (title suffix, DOI, year, ID). Each
measurement runs in its own process so its peak memory is its own:

- rispy: ``rispy.loads`` on the same text (rispy's own parse time, tags only);
- import: ``import_file`` into a fresh SQLite file, commit included: records stored per
  second (wall); the CPU of the main process, split into its parse of the first piece,
  storing the rows (``store_rows``), the commit and the rest (hashing, cutting, waiting
  for and unpickling the workers' rows); the CPU and peak RSS of each worker process
  that parses pieces meanwhile (read from /proc while they run);
- parts (``--parts``): the cost of each step on one 8 MB piece, in one process: decoding
  and splitting into tags, choosing and normalising fields, encoding rows, pickling them
  to and from a worker, inserting them, committing.

    .venv/bin/python bench/import_bench.py [--records 100000] [--no-rispy] [--parts]
        [--url postgresql+psycopg://.../a_disposable_database]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _builder():  # noqa: ANN202 - the parse bench's module
    spec = importlib.util.spec_from_file_location("import_parse_bench",
                                                  ROOT / "bench" / "import_parse_bench.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _status_mb(pid: int | str = "self") -> float:
    """A process's peak RSS (VmHWM: unlike ru_maxrss it does not inherit the parent's
    high-water mark through the fork/exec that started it)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class ChildWatch:
    """Polls this process's worker processes for their peak RSS and CPU seconds."""

    def __init__(self, every_s: float = 0.2) -> None:
        self.peak_mb: dict[int, float] = {}
        self.cpu_s: dict[int, float] = {}
        self._every = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._tick = os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> ChildWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            for pid in self._children():
                try:
                    if b"spawn_main" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                        continue  # not a worker (e.g. multiprocessing's resource tracker)
                    peak = _status_mb(pid)
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                except (OSError, IndexError):
                    continue  # it has just ended
                self.peak_mb[pid] = max(self.peak_mb.get(pid, 0.0), peak)
                self.cpu_s[pid] = (int(fields[11]) + int(fields[12])) / self._tick

    @staticmethod
    def _children() -> set[int]:
        found: set[int] = set()
        for task in Path(f"/proc/{os.getpid()}/task").iterdir():
            try:
                found.update(int(p) for p in (task / "children").read_text().split())
            except OSError:
                continue
        return found


def phase_rispy(path: Path) -> dict[str, Any]:
    """rispy's own parse of the file's text."""
    import rispy

    text = path.read_bytes().decode("utf-8")
    start = (time.perf_counter(), time.process_time())
    entries = rispy.loads(text)
    return {"wall_s": time.perf_counter() - start[0], "cpu_s": time.process_time() - start[1],
            "records": len(entries), "peak_mb": _status_mb()}


def phase_import(path: Path, workdir: Path, url: str | None) -> dict[str, Any]:
    """import_file into a fresh database (SQLite unless ``url``), commit included."""
    import review.models  # noqa: F401
    from review.db import Base, make_engine, make_sessionmaker
    from review.services import import_io, imports, projects, users

    engine = make_engine(url or f"sqlite:///{workdir / 'bench.db'}")
    if url:
        Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    factory = make_sessionmaker(engine)
    with factory() as session:
        lead = users.create_user(session, email="bench@example.org", name="Bench",
                                 password="bench-password")
        project = projects.create_project(session, title="Bench", lead_id=lead.id)
        session.commit()
        data = path.read_bytes()
        import importers

        parsing = _timed(importers, "parse")
        storing = _timed(imports, "store_rows")
        analyzing = _timed(import_io, "analyze_records")
        with ChildWatch() as workers:
            start = (time.perf_counter(), time.process_time())
            report = imports.import_file(session, project_id=project.id, user_id=lead.id,
                                         source_name="Bench", filename=path.name, data=data)
            before_commit = (time.perf_counter(), time.process_time())
            session.commit()
            end = (time.perf_counter(), time.process_time())
    # The workers are children (spawned, then joined): their CPU, all together.
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    out: dict[str, Any] = {
        "records": report.n_imported, "peak_mb": _status_mb(),
        "workers_cpu_s": child.ru_utime + child.ru_stime,
        "worker_peak_mb": sorted(workers.peak_mb.values(), reverse=True),
        "worker_cpu_s": sorted(workers.cpu_s.values(), reverse=True),
        "load": os.getloadavg()[0], "database": engine.dialect.name}
    for i, clock in enumerate(("wall", "cpu")):
        out[f"{clock}_s"] = end[i] - start[i]
        out[f"{clock}_parse_s"] = parsing[i]
        out[f"{clock}_store_s"] = storing[i]
        out[f"{clock}_commit_s"] = end[i] - before_commit[i]
        out[f"{clock}_analyze_s"] = analyzing[i]
        out[f"{clock}_rest_s"] = (before_commit[i] - start[i] - parsing[i] - storing[i]
                                  - analyzing[i])
    return out


def _timed(module: Any, name: str) -> list[float]:
    """Wrap module.name to add up the wall and CPU time of its calls in this process."""
    spent = [0.0, 0.0]
    function = getattr(module, name)

    def timed(*args: object, **kwargs: object) -> object:
        t0 = (time.perf_counter(), time.process_time())
        try:
            return function(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - t0[0]
            spent[1] += time.process_time() - t0[1]

    setattr(module, name, timed)
    return spent


def phase_parts(path: Path, workdir: Path) -> dict[str, Any]:
    """Each step of the import on one piece of the file (the 4th), in this process."""
    import review.models  # noqa: F401
    from importers import pieces, ris
    from importers.encoding import decode
    from importers.normalise import make_record
    from importers.rows import to_rows
    from review.db import Base, make_engine
    from review.services import import_io

    data = path.read_bytes()
    cuts = pieces.cuts(data, import_io.PIECE_BYTES)
    assert cuts and len(cuts) > 4
    piece = data[cuts[3][0]:cuts[4][0]]
    engine = make_engine(f"sqlite:///{workdir / 'parts.db'}")
    Base.metadata.create_all(engine)
    steps: dict[str, list[float]] = {}

    def step(name: str, fn: Callable[[], Any]) -> Any:
        t0 = (time.perf_counter(), time.process_time())
        out = fn()
        steps[name] = [time.perf_counter() - t0[0], time.process_time() - t0[1]]
        return out

    text = step("decode the piece (UTF-8)", lambda: decode(piece)[0])
    tags = step("split into records and tags (importers.ris)",
                lambda: list(ris.split_records(text)))
    records = step("choose fields and normalise them (make_record, raw kept)", lambda: [
        make_record(ris._pick(t), {k: v[0] if len(v) == 1 else v for k, v in t.items()},
                    f"line {line}") for line, t in tags])
    from sqlalchemy.orm import Session

    from review.services import projects, users

    with Session(bind=engine) as session:
        lead = users.create_user(session, email="bench@example.org", name="Bench",
                                 password="bench-password")
        project_id = projects.create_project(session, title="Bench", lead_id=lead.id).id
        session.commit()
    with engine.connect() as conn:
        conn.begin()
        session = Session(bind=conn)
        spec = import_io.row_spec(session, project_id, None, nul=False)  # type: ignore[arg-type]
        rows = step("encode rows (to_rows: JSON of authors, keywords, raw)",
                    lambda: to_rows(records, spec))
        blob = step("pickle the rows (worker side)", lambda: pickle.dumps(rows, protocol=5))
        step("unpickle the rows (storing side)", lambda: pickle.loads(blob))
        step("insert the rows (store_rows: sqlite3 executemany)",
             lambda: import_io.store_rows(session, rows, progress=None))
        step("commit", conn.commit)
    return {"records": len(records), "piece_mb": len(piece) / 1e6, "steps": steps,
            "file_records": None, "pieces": len(cuts), "load": os.getloadavg()[0]}


def _run(phase: str, path: Path, workdir: Path, url: str | None = None) -> dict[str, Any]:
    more = ["--url", url] if url else []
    out = subprocess.run([sys.executable, __file__, "--phase", phase, "--file", str(path),
                          "--workdir", str(workdir), *more], check=True, capture_output=True,
                         text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


PHASES = {"rispy": lambda a: phase_rispy(a.file), "import": lambda a: phase_import(
    a.file, a.workdir, a.url), "parts": lambda a: phase_parts(a.file, a.workdir)}


def main() -> None:
    """Build the file, run the measurements, print the figures as Markdown."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--no-rispy", action="store_true", help="skip rispy's parse")
    parser.add_argument("--parts", action="store_true",
                        help="also time each step on one 8 MB piece")
    parser.add_argument("--url", help="import into this database instead of a fresh SQLite "
                        "file (PostgreSQL: a disposable database, its tables are dropped)")
    parser.add_argument("--phase", choices=tuple(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(PHASES[args.phase](args)))
        return
    build = _builder()
    if not build.RIS_DIR.exists():
        sys.exit(f"shared RIS samples not found at {build.RIS_DIR}")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        path = workdir / "bench.ris"
        path.write_bytes(build.build(args.records))
        size_mb = path.stat().st_size / 1e6
        rispy_run = None if args.no_rispy else _run("rispy", path, workdir)
        imported = _run("import", path, workdir, args.url)
        parts = _run("parts", path, workdir) if args.parts else None
    n = imported["records"]
    assert n == args.records, imported
    print(f"file: {args.records:,} RIS records, {size_mb:.0f} MB "
          f"({len(build.sample_records())} real samples repeated with varied fields); "
          f"load average {imported['load']:.1f} at the end of the import\n")
    _print_import(n, imported, rispy_run)
    if parts:
        _print_parts(parts)


def _print_import(n: int, imported: dict[str, Any], rispy_run: dict[str, Any] | None) -> None:
    print("| step | wall s | CPU s | records/s (wall) | records/CPU-s | peak RSS |\n"
          "|---|---:|---:|---:|---:|---:|")
    rows = [(f"import_file end to end into {imported['database']} (commit included); "
             "main process", imported, "", f"**{imported['peak_mb']:,.0f} MB**"),
            ("- main: importers.parse of the first piece (or of a small file)", imported,
             "parse_", ""),
            ("- main: store_rows (executemany or COPY of the workers' rows)", imported,
             "store_", ""),
            *([("- main: ANALYZE records", imported, "analyze_", "")]
              if imported["database"] == "postgresql" else []),
            ("- main: commit", imported, "commit_", ""),
            ("- main: the rest (sha256, cutting, waiting for and unpickling rows)", imported,
             "rest_", "")]
    if rispy_run:
        rows.insert(0, ("rispy.loads alone (tags only, no normalising, nothing stored)",
                        rispy_run, "", f"{rispy_run['peak_mb']:,.0f} MB"))
    for label, run, key, peak in rows:
        wall, cpu = run[f"wall_{key}s"], run[f"cpu_{key}s"]
        print(f"| {label} | {wall:.1f} | {cpu:.1f} | {n / wall:,.0f} | "
              f"{n / cpu:,.0f} | {peak} |" if cpu else f"| {label} | {wall:.1f} | {cpu:.1f} "
              f"| | | {peak} |")
    workers = imported["workers_cpu_s"]
    if workers:
        each = ", ".join(f"{c:.1f}" for c in imported["worker_cpu_s"])
        peaks = " / ".join(f"{m:,.0f}" for m in imported["worker_peak_mb"])
        print(f"| {len(imported['worker_peak_mb'])} worker processes parsing pieces into rows "
              f"(each: {each} CPU s) | | {workers:.1f} | | {n / workers:,.0f} | {peaks} MB |")
        total = imported["cpu_s"] + workers
        print(f"| all processes together | | {total:.1f} | | {n / total:,.0f} | |")


def _print_parts(parts: dict[str, Any]) -> None:
    k = parts["records"]
    print(f"\nOne piece ({parts['piece_mb']:.1f} MB, {k:,} records; the file has "
          f"{parts['pieces']} pieces), one process, load {parts['load']:.1f}:\n")
    print("| step | wall ms | CPU ms | records/CPU-s |\n|---|---:|---:|---:|")
    for name, (wall, cpu) in parts["steps"].items():
        rate = f"{k / cpu:,.0f}" if cpu else ""
        print(f"| {name} | {wall * 1000:.0f} | {cpu * 1000:.0f} | {rate} |")


if __name__ == "__main__":
    main()
