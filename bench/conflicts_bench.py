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
        return engine, project.id, lead.id


def timed(fn, repeat: int = 5) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def run(url: str, n: int) -> list[str]:
    engine, pid, lead = build(url, n)
    factory = make_sessionmaker(engine)
    lines = [f"{engine.dialect.name}, {n} records, {2 * n} decisions"]
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
    parser.add_argument("--pg", help="PostgreSQL URL to run on as well (tables are dropped)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lines = run(f"sqlite:///{Path(tmp) / 'bench.db'}", args.records)
    if args.pg:
        lines += run(args.pg.replace("postgresql://", "postgresql+psycopg://", 1), args.records)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
