"""Retrain timing through the service (database in, ranks out) at 10,000 records.

Records: the labelled sets of ../shared/data/screening concatenated until N records. Two reviewers
have screened the first `--labels` records of a random order (their decisions agree with the set's
label). Then the benchmark times, through review.services.ranking.retrain:

* the first retrain (features built and stored in feature_sets),
* a retrain after each new decision with the features in the worker's memory (the usual case),
* a retrain with the memory cache cleared (features unpickled from feature_sets, after a restart).

Usage:
    .venv/bin/python bench/ranking_service_bench.py [--n 10000] [--labels 200] [--repeats 15]
        [--database-url postgresql://postgres@127.0.0.1/bench]
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from review.db import Base, make_engine, make_sessionmaker  # noqa: E402
from review.models import Decision, Membership, Project, Record, User  # noqa: E402
from review.services import ranking  # noqa: E402

SETS = ROOT.parent / "shared" / "data" / "screening"


def read_records(n: int) -> list[dict]:
    rows: list[dict] = []
    csv.field_size_limit(10**8)
    for path in sorted(SETS.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                rows.append(row)
                if len(rows) == n:
                    return rows
    raise SystemExit(f"only {len(rows)} records in {SETS}")


def setup(url: str, n: int, n_labels: int, seed: int = 0) -> tuple:
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    factory = make_sessionmaker(engine)
    rows = read_records(n)
    with factory() as s:
        users = [User(email=f"u{i}@bench", name=f"U{i}", password_hash="x") for i in range(2)]
        project = Project(title="bench", question="", inclusion_criteria="",
                          exclusion_criteria="", include_terms=[], exclude_terms=[])
        s.add_all([*users, project])
        s.flush()
        s.add_all([Membership(project_id=project.id, user_id=u.id, role="lead") for u in users])
        s.execute(sa.insert(Record), [
            {"project_id": project.id, "title": r["title"], "abstract": r["abstract"],
             "journal": r.get("journal") or None, "authors": [], "keywords": [], "raw": {}}
            for r in rows])
        ids = list(s.scalars(sa.select(Record.id).where(Record.project_id == project.id)
                             .order_by(Record.id)))
        s.commit()
        import random

        rng = random.Random(seed)
        order = ids[:]
        rng.shuffle(order)
        label_of = {rid: int(r["label_included"]) for rid, r in zip(ids, rows, strict=True)}
        # make sure both classes are among the first labels
        first_inc = next(i for i in order if label_of[i] == 1)
        order.remove(first_inc)
        order.insert(0, first_inc)
        return factory, project.id, [u.id for u in users], order, label_of, n_labels


def decide(factory, project_id: int, users: list[int], rid: int, label: int) -> None:
    with factory() as s:
        for slot, uid in enumerate(users, start=1):
            s.add(Decision(project_id=project_id, record_id=rid, stage="title_abstract",
                           reviewer_id=uid, slot=slot, label="include" if label else "exclude"))
        s.commit()


def timed_retrain(factory, project_id: int) -> tuple[float, dict]:
    with factory() as s:
        t0 = time.perf_counter()
        run = ranking.retrain(s, project_id=project_id)
        s.commit()
        return time.perf_counter() - t0, dict(run.metrics)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--labels", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    url = args.database_url or f"sqlite:///{tmp}/bench.db"
    factory, pid, users, order, label_of, n_labels = setup(url, args.n, args.labels)
    for rid in order[:n_labels]:
        decide(factory, pid, users, rid, label_of[rid])
    ranking.clear_memory_cache()
    first_s, first = timed_retrain(factory, pid)
    memory: list[tuple[float, dict]] = []
    for rid in order[n_labels:n_labels + args.repeats]:
        decide(factory, pid, users, rid, label_of[rid])
        memory.append(timed_retrain(factory, pid))
    stored: list[tuple[float, dict]] = []
    for _ in range(max(3, args.repeats // 3)):
        ranking.clear_memory_cache()
        stored.append(timed_retrain(factory, pid))
    dialect = make_engine(url).dialect.name
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"database: {dialect}; records: {args.n}; labels at start: {n_labels}; "
          f"load average now: {load} (2 cores)")
    print(f"first retrain (features built): {first_s:.3f} s  {first['timings']}")
    for name, runs in (("features in memory", memory), ("features unpickled", stored)):
        assert all(m["features"] == name.split()[-1].replace("unpickled", "stored")
                   for _, m in runs), [m["features"] for _, m in runs]
        total = statistics.median(t for t, _ in runs)
        parts = {k: round(statistics.median(m["timings"][k] for _, m in runs), 4)
                 for k in runs[0][1]["timings"]}
        print(f"retrain after a new label, {name}: median {total * 1000:.0f} ms "
              f"over {len(runs)} runs; parts (median s): {parts}")


if __name__ == "__main__":
    main()
