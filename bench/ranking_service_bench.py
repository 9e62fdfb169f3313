"""Retrain timing through the service (database in, ranks out) at 10,000 and 100,000 records.

Records: the labelled sets of ../shared/data/screening concatenated (about 32,000); beyond them,
copies whose abstract sentences are reshuffled (the vocabulary and lengths stay real, no two texts
are the same). Two reviewers have screened the first `--labels` records of a random order (their
decisions agree with the set's label). Then the benchmark times, through
review.services.ranking.retrain, each in its own session and transaction as the job runs it:

* the first retrain (features built and stored in feature_sets),
* a retrain after each new decision with the features in the worker's memory (the usual case),
* a retrain with the memory cache cleared (features unpickled from feature_sets, after a restart),
* with ``--added K``: a retrain after K new records arrive (the features are rebuilt; with an
  embedding ranker only the new records are encoded).

``--model`` picks the ranker (e.g. ``tfidf-emb-svm``, which needs the extra "embeddings"); the
first retrain sets it and the later ones keep it, as in the app.

Wall time and the CPU time of this process (``time.process_time``; the PostgreSQL server's own
CPU is not in it) are reported per retrain, with the median of the parts the service records in
``model_runs.metrics``. ``--profile`` prints a cProfile of one retrain after a new label.

Usage:
    nice -n 19 .venv/bin/python bench/ranking_service_bench.py [--n 10000] [--labels 200]
        [--repeats 15] [--database-url postgresql+psycopg://postgres@127.0.0.1/bench]
        [--model NAME] [--added K] [--profile] [--vacuum] [--json out.json]
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import io
import json
import os
import pstats
import random
import shutil
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


def read_records(n: int, seed: int = 0) -> list[dict]:
    """N labelled records: the real ones, then copies with their abstract sentences reshuffled."""
    rows: list[dict] = []
    csv.field_size_limit(10**8)
    for path in sorted(SETS.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                rows.append({"title": row["title"], "abstract": row["abstract"],
                             "journal": row.get("journal") or None,
                             "label": int(row["label_included"])})
                if len(rows) == n:
                    return rows
    if not rows:
        raise SystemExit(f"no records in {SETS}")
    rng = random.Random(seed)
    base = len(rows)
    while len(rows) < n:
        src = rows[rng.randrange(base)]
        parts = (src["abstract"] or "").split(". ")
        rng.shuffle(parts)
        rows.append({**src, "abstract": ". ".join(parts)})
    return rows


def setup(url: str, n: int, seed: int = 0) -> tuple:
    """A project with N records and two leads; returns the screening order and true labels."""
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    engine.dispose()
    factory = make_sessionmaker(make_engine(url))
    rows = read_records(n, seed)
    with factory() as s:
        users = [User(email=f"u{i}@bench", name=f"U{i}", password_hash="x") for i in range(2)]
        project = Project(title="bench", question="", inclusion_criteria="",
                          exclusion_criteria="", include_terms=[], exclude_terms=[])
        s.add_all([*users, project])
        s.flush()
        s.add_all([Membership(project_id=project.id, user_id=u.id, role="lead") for u in users])
        for start in range(0, n, 5000):
            s.execute(sa.insert(Record), [
                {"project_id": project.id, "title": r["title"], "abstract": r["abstract"],
                 "journal": r["journal"], "authors": [], "keywords": [], "raw": {}}
                for r in rows[start:start + 5000]])
        ids = list(s.scalars(sa.select(Record.id).where(Record.project_id == project.id)
                             .order_by(Record.id)))
        s.commit()
        label_of = {rid: r["label"] for rid, r in zip(ids, rows, strict=True)}
        order = ids[:]
        random.Random(seed).shuffle(order)
        # both classes among the first labels
        first_inc = next(i for i in order if label_of[i] == 1)
        order.remove(first_inc)
        order.insert(0, first_inc)
        return factory, project.id, [u.id for u in users], order, label_of


def decide(factory, project_id: int, users: list[int], rids: list[int],
           label_of: dict[int, int]) -> None:
    """Both reviewers decide the records (agreeing with the true label), in one transaction."""
    with factory() as s:
        s.add_all([Decision(project_id=project_id, record_id=rid, stage="title_abstract",
                            reviewer_id=uid, slot=slot,
                            label="include" if label_of[rid] else "exclude")
                   for rid in rids for slot, uid in enumerate(users, start=1)])
        s.commit()


def timed_retrain(factory, project_id: int, ranker: str | None = None) -> dict:
    """One retrain in its own session, committed: wall and CPU seconds, and the run's metrics."""
    with factory() as s:
        w0, c0 = time.perf_counter(), time.process_time()
        run = ranking.retrain(s, project_id=project_id, ranker=ranker)
        s.commit()
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        return {"wall_s": wall, "cpu_s": cpu, **dict(run.metrics)}


def add_records(factory, project_id: int, k: int) -> dict:
    """K new records (reshuffled copies, as an import of another export), then a timed retrain."""
    rows = read_records(k, seed=1)
    with factory() as s:
        s.execute(sa.insert(Record), [
            {"project_id": project_id, "title": r["title"],
             "abstract": f"{r['abstract']} (added)", "journal": r["journal"],
             "authors": [], "keywords": [], "raw": {}} for r in rows])
        ranking.records_changed(s, project_id=project_id)
        s.commit()
    return timed_retrain(factory, project_id)


def vacuum(url: str) -> None:
    """VACUUM ANALYZE the records on PostgreSQL, as autovacuum would (it lags under load).

    After the bulk insert and the first retrain's full rank write, the count of kept records
    reads every heap row instead of the index alone until the table is vacuumed.
    """
    engine = make_engine(url, isolation_level="AUTOCOMMIT")
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.exec_driver_sql("VACUUM ANALYZE records")
    engine.dispose()


def summarise(runs: list[dict]) -> dict:
    """Medians (and max wall) of a list of timed retrains."""
    parts = {k: round(statistics.median(r["timings"][k] for r in runs), 4)
             for k in runs[0]["timings"]}
    return {"runs": len(runs),
            "median_wall_s": round(statistics.median(r["wall_s"] for r in runs), 4),
            "median_cpu_s": round(statistics.median(r["cpu_s"] for r in runs), 4),
            "max_wall_s": round(max(r["wall_s"] for r in runs), 4),
            "ranks_written_median": statistics.median(r.get("ranks_written", 0) for r in runs),
            "parts_median_s": parts}


def profile_one(factory, project_id: int, users: list[int], rid: int,
                label_of: dict[int, int]) -> str:
    """cProfile of one retrain after a new label (features in memory): top 25 by cumulative."""
    decide(factory, project_id, users, [rid], label_of)
    prof = cProfile.Profile()
    with factory() as s:
        prof.enable()
        ranking.retrain(s, project_id=project_id)
        s.commit()
        prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(25)
    return out.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--labels", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--model", default=None, help="ranker name (default: the app's default)")
    ap.add_argument("--added", type=int, default=0,
                    help="then add this many records and time the retrain that follows")
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--vacuum", action="store_true",
                    help="PostgreSQL: VACUUM ANALYZE records after the first retrain")
    ap.add_argument("--json", default=None, help="write the figures here too")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()  # the SQLite database (600 MB at 100k), removed at the end
    url = args.database_url or f"sqlite:///{tmp}/bench.db"
    try:
        run(args, url)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(args: argparse.Namespace, url: str) -> None:
    """Set up, time the retrains and print (and write) the figures."""
    factory, pid, users, order, label_of = setup(url, args.n)
    decide(factory, pid, users, order[:args.labels], label_of)
    ranking.clear_memory_cache()
    first = timed_retrain(factory, pid, args.model)
    if args.vacuum:
        vacuum(url)
    nxt = args.labels
    memory: list[dict] = []
    for rid in order[nxt:nxt + args.repeats]:
        decide(factory, pid, users, [rid], label_of)
        memory.append(timed_retrain(factory, pid))
    nxt += args.repeats
    stored: list[dict] = []
    for _ in range(max(3, args.repeats // 3)):
        ranking.clear_memory_cache()
        stored.append(timed_retrain(factory, pid))
    added = add_records(factory, pid, args.added) if args.added else None
    prof = profile_one(factory, pid, users, order[nxt], label_of) if args.profile else ""
    dialect = make_engine(url).dialect.name
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    result = {"database": dialect, "records": args.n, "labels_at_start": args.labels,
              "load_average": load, "vacuum": args.vacuum,
              "model": args.model or "default",
              "first": {k: first[k] for k in ("wall_s", "cpu_s", "timings")},
              "memory": summarise(memory), "stored": summarise(stored)}
    for name, runs in (("memory", memory), ("stored", stored)):
        sources = {r["features"] for r in runs}
        assert sources == {name}, (name, sources)
    if added is not None:
        result["added"] = {"records": args.added,
                           **{k: added[k] for k in ("wall_s", "cpu_s", "timings")}}
    print(f"database: {dialect}; records: {args.n}; labels at start: {args.labels}; "
          f"model: {args.model or 'default'}; "
          f"load average after the runs: {load} (2 cores)")
    print(f"first retrain (features built): wall {first['wall_s']:.2f} s, "
          f"CPU {first['cpu_s']:.2f} s  {first['timings']}")
    for name, label in (("memory", "features in memory"), ("stored", "features unpickled")):
        r = result[name]
        print(f"retrain after a new label, {label}: median wall {r['median_wall_s'] * 1000:.0f} ms"
              f", CPU {r['median_cpu_s'] * 1000:.0f} ms (max wall {r['max_wall_s'] * 1000:.0f} ms"
              f", {r['runs']} runs, ranks written {r['ranks_written_median']:.0f}); "
              f"parts (median s): {r['parts_median_s']}")
    if added is not None:
        print(f"retrain after {args.added} new records (features rebuilt): wall "
              f"{added['wall_s']:.2f} s, CPU {added['cpu_s']:.2f} s  {added['timings']}")
    if prof:
        print(prof)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
