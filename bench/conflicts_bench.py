"""Time the conflict/agreement services on a realistic review: 10k records, 2 reviewers each.

Builds a fresh SQLite file (and PostgreSQL with --pg URL), stores 10,000 records with two
title/abstract decisions each (about 12% disagreeing, include rate about 15%), then times the
dashboard counts, the conflict queue, one resolve + unresolve, agreement per pair and the CSV.

    .venv/bin/python bench/conflicts_bench.py [--records 10000] [--pg postgresql://...]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

import review.models  # noqa: F401
from review.db import Base, make_engine, make_sessionmaker
from review.models import Decision, Membership, Record
from review.services import agreement, conflicts, users
from review.services.dashboard import project_counts
from review.services.projects import create_project


def build(url: str, n: int, seed: int = 1) -> tuple[sa.Engine, int, int]:
    engine = make_engine(url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    factory = make_sessionmaker(engine)
    rng = random.Random(seed)
    with factory() as s:
        lead = users.create_user(s, email="lead@x.org", name="Lead", password="x" * 12)
        a = users.create_user(s, email="a@x.org", name="A", password="x" * 12)
        b = users.create_user(s, email="b@x.org", name="B", password="x" * 12)
        project = create_project(s, title="Bench", lead_id=lead.id)
        project_id, lead_id = project.id, lead.id
        s.add_all([Membership(project_id=project.id, user_id=u.id, role="reviewer")
                   for u in (a, b)])
        s.flush()
        records = [{"project_id": project.id, "title": f"Record {i}", "abstract": "text",
                    "authors": [], "keywords": [], "raw": {}, "rank": i} for i in range(n)]
        s.execute(sa.insert(Record), records)
        ids = list(s.scalars(sa.select(Record.id).where(Record.project_id == project.id)))
        rows = []
        for rid in ids:
            truth = "include" if rng.random() < 0.15 else "exclude"
            for slot, reviewer in enumerate((a, b), start=1):
                label = truth if rng.random() > 0.06 else ("maybe" if truth == "exclude"
                                                           else "exclude")
                rows.append({"project_id": project.id, "record_id": rid,
                             "stage": "title_abstract", "reviewer_id": reviewer.id,
                             "slot": slot, "label": label})
        s.execute(sa.insert(Decision), rows)
        s.commit()
    if engine.dialect.name == "postgresql":
        # Fresh statistics, as autovacuum would gather after a big import; without them the
        # planner takes the just-filled tables for empty and nests loops (72 s, not 60 ms).
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
    return engine, project_id, lead_id


class Ms(float):
    """Median wall milliseconds, printed with the median CPU milliseconds of this process."""

    cpu: float = 0.0

    def __format__(self, spec: str) -> str:
        return f"{float(self):{spec}} ms wall / {self.cpu:{spec}}"


def timed(fn, repeat: int = 5) -> tuple[Ms, object]:
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append((time.perf_counter() - start) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    ms = Ms(statistics.median(walls))
    ms.cpu = statistics.median(cpus)
    return ms, result


class Lines(list):
    """Lines printed as they come (a long run shows progress)."""

    def append(self, line: str) -> None:
        print(line, flush=True)
        super().append(line)


def run(url: str, n: int) -> list[str]:
    start = time.perf_counter()
    engine, pid, lead = build(url, n)
    factory = make_sessionmaker(engine)
    lines = Lines()
    lines.append(f"{engine.dialect.name}, {n} records, {2 * n} decisions "
                 f"(built in {time.perf_counter() - start:.0f} s)")
    with factory() as s:
        ms, counts = timed(lambda: project_counts(s, project_id=pid))
        lines.append(f"  project_counts: {ms:.0f} ms median of 5 "
                     f"(conflicts {counts.conflicts}, included {counts.included})")
        ms, queue = timed(lambda: conflicts.conflict_queue(s, project_id=pid, user_id=lead,
                                                           stage="title_abstract"))
        lines.append(f"  conflict_queue: {ms:.0f} ms ({len(queue)} conflicts with decisions)")
        rid = queue[0].record.id
        ms, page = timed(lambda: conflicts.conflict_queue(
            s, project_id=pid, user_id=lead, stage="title_abstract", limit=50))
        lines.append(f"  conflict_queue(limit=50), what the page asks for: {ms:.0f} ms")

        def cycle() -> None:
            conflicts.resolve(s, project_id=pid, record_id=rid, stage="title_abstract",
                              lead_id=lead, label="include")
            conflicts.unresolve(s, project_id=pid, record_id=rid, stage="title_abstract",
                                lead_id=lead)
        ms, _ = timed(cycle)
        lines.append(f"  resolve + unresolve: {ms:.0f} ms")
        ms, result = timed(lambda: agreement.stage_agreement(
            s, project_id=pid, user_id=lead, stage="title_abstract"))
        kappa = result.pairs[0].agreement.kappa.value
        lines.append(f"  stage_agreement: {ms:.0f} ms (kappa {kappa:.3f})")
        ms, text = timed(lambda: agreement.agreement_csv(s, project_id=pid, user_id=lead))
        lines.append(f"  agreement_csv (2 stages x 2 scales): {ms:.0f} ms")
        s.rollback()
    engine.dispose()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--pg", help="PostgreSQL URL to run on as well (tables are dropped: "
                        "give it a database of its own)")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            run(f"sqlite:///{Path(tmp) / 'bench.db'}", args.records)
    if args.pg:
        run(args.pg.replace("postgresql://", "postgresql+psycopg://", 1), args.records)


if __name__ == "__main__":
    main()
