"""Deduplication inside a review: the service on a real database, import by import.

What it measures (figures go to bench/RESULTS.md, section "Deduplication in a review"):

- ``--labelled``: the labelled sets of ../shared/data/dedup imported as three batches (records
  dealt round-robin, as three databases would return them), deduplicated after each import
  (incremental runs), compared with one full run over all records: automatic pair recall,
  recall once the lead accepts the true pairs of the queue, false merged records, queue size,
  seconds per run.
- ``--scale N``: N synthetic records (bench/dedup_synth.py) imported as five batches, an
  incremental run after each; then a full run over all N; then the latency of deciding and
  undoing a pair (groups are re-derived for the touched records). Peak memory of the process.

Run from the project root:

    .venv/bin/python bench/dedup_service_bench.py --labelled
    .venv/bin/python bench/dedup_service_bench.py --scale 10000
    .venv/bin/python bench/dedup_service_bench.py --scale 50000
    .venv/bin/python bench/dedup_service_bench.py --labelled --database-url postgresql://...

The database is a fresh SQLite file in a temporary folder unless --database-url is given (that
database's tables are emptied first).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections import Counter, defaultdict
from itertools import combinations
from pathlib import Path

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dedup_data import load_set  # noqa: E402
from dedup_synth import synthetic  # noqa: E402

import review.models  # noqa: E402, F401
from review.db import Base, make_engine, make_sessionmaker  # noqa: E402
from review.models import DuplicateCandidate, ImportBatch, Record, Source  # noqa: E402
from review.services import dedup as service  # noqa: E402
from review.services import projects, users  # noqa: E402
from screening.dedup import DedupRecord  # noqa: E402


def fresh_session(url: str | None):  # type: ignore[no-untyped-def]
    """A session on an empty database with the schema (SQLite file unless ``url``)."""
    if url is None:
        url = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    engine = make_engine(url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    return make_sessionmaker(engine)()


def setup_project(session) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    users._hasher = PasswordHasher.from_parameters(CHEAPEST)  # accounts are not measured here
    lead = users.create_user(session, email="lead@bench.org", name="Lead", password="x" * 12)
    project = projects.create_project(session, title="Bench", lead_id=lead.id)
    session.commit()
    return project.id, lead.id


def insert_batch(session, project_id: int, records: list[DedupRecord], source: str  # type: ignore[no-untyped-def]
                 ) -> list[int]:
    """Store records as one import batch of ``source`` (bulk insert); returns their ids."""
    src = Source(project_id=project_id, name=source)
    session.add(src)
    session.flush()
    batch = ImportBatch(project_id=project_id, source_id=src.id, filename=f"{source}.csv",
                        sha256="0" * 64, format="csv", n_read=len(records),
                        n_imported=len(records))
    session.add(batch)
    session.flush()
    rows = [dict(project_id=project_id, batch_id=batch.id, source_record_id=r.id, title=r.title,
                 authors=r.authors, year=r.year, journal=r.journal, volume=r.volume,
                 issue=r.issue, pages=r.pages, doi=r.doi, abstract=r.abstract, isbn=r.isbn,
                 raw={}, keywords=[]) for r in records]
    session.execute(sa.insert(Record), rows)
    session.commit()
    return list(session.scalars(sa.select(Record.id).where(Record.batch_id == batch.id)))


def evaluate(session, project_id: int, truth: dict[str, str]) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Pair recall (automatic, with the queue), false merged records, queue size."""
    rows = session.execute(sa.select(Record.id, Record.source_record_id, Record.canonical_id)
                           .where(Record.project_id == project_id)).all()
    label = {rid: truth[src] for rid, src, _c in rows}
    head = {rid: canonical or rid for rid, _s, canonical in rows}
    pending = session.execute(sa.select(DuplicateCandidate.record_a_id,
                                        DuplicateCandidate.record_b_id).where(
        DuplicateCandidate.project_id == project_id,
        DuplicateCandidate.status == "pending")).all()
    # A pending pair whose records were since joined through other pairs is settled: the
    # queue leaves it out (review.services.dedup_graph.open_pending).
    pending = [(a, b) for a, b in pending if head[a] != head[b]]
    true_pairs = {p for members in _groups(label).values() for p in combinations(members, 2)}
    auto = {p for members in _groups(head).values() for p in combinations(members, 2)}
    # The lead accepts exactly the true pairs of the queue: join those groups.
    parent = dict(head)

    def find(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    for a, b in pending:
        if label[a] == label[b]:
            parent[find(a)] = find(b)
    queue_head = {rid: find(rid) for rid in head}
    with_queue = {p for members in _groups(queue_head).values() for p in combinations(members, 2)}
    false_merged = sum(len(m) - max(Counter(label[r] for r in m).values())
                       for m in _groups(head).values())
    return {"true_pairs": len(true_pairs),
            "auto_recall": len(auto & true_pairs) / max(1, len(true_pairs)),
            "recall_with_queue": len(with_queue & true_pairs) / max(1, len(true_pairs)),
            "false_merged": false_merged, "queue": len(pending), "records": len(rows)}


def _groups(head: dict[int, object]) -> dict[object, list[int]]:
    groups: dict[object, list[int]] = defaultdict(list)
    for rid, h in sorted(head.items()):
        groups[h].append(rid)
    return groups


def run_labelled(url: str | None) -> None:
    """Three imports with incremental runs vs one full run, per labelled set."""
    print("| set | mode | records | auto recall | recall with queue | false merged | queue "
          "items | seconds per run |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for name in ("asysd_diabetes", "rathbone2015_haematology"):
        records, truth = load_set(name)
        for mode in ("3 imports, incremental", "1 full run"):
            session = fresh_session(url)
            project_id, _lead = setup_project(session)
            parts = [records[k::3] for k in range(3)] if mode.startswith("3") else [records]
            seconds = []
            for k, part in enumerate(parts):
                ids = insert_batch(session, project_id, part, f"db{k}")
                clock = time.perf_counter()
                service.dedup_new_records(session, project_id=project_id,
                                          new_record_ids=None if k == 0 else ids)
                session.commit()
                seconds.append(time.perf_counter() - clock)
            e = evaluate(session, project_id, truth)
            print(f"| {name} | {mode} | {e['records']} | {e['auto_recall']:.4f} | "
                  f"{e['recall_with_queue']:.4f} | {e['false_merged']} | {e['queue']} | "
                  f"{' / '.join(f'{s:.2f}' for s in seconds)} |")
            session.close()


def run_scale(n: int, url: str | None) -> None:
    """N synthetic records in five imports, then a full run, then decide/undo latency."""
    records, truth = synthetic(n)
    session = fresh_session(url)
    project_id, lead = setup_project(session)
    times = []
    for k in range(5):
        ids = insert_batch(session, project_id, records[k::5], f"db{k}")
        clock = time.perf_counter()
        summary = service.dedup_new_records(session, project_id=project_id,
                                            new_record_ids=None if k == 0 else ids)
        session.commit()
        times.append(time.perf_counter() - clock)
    inc = evaluate(session, project_id, truth)
    clock = time.perf_counter()
    full = service.dedup_new_records(session, project_id=project_id)
    session.commit()
    full_s = time.perf_counter() - clock
    pending = list(session.scalars(sa.select(DuplicateCandidate.id).where(
        DuplicateCandidate.status == "pending").limit(20)))
    clock = time.perf_counter()
    for cid in pending:
        service.decide_pair(session, project_id=project_id, candidate_id=cid, lead_id=lead,
                            is_duplicate=True)
        session.commit()
    decide_ms = 1000 * (time.perf_counter() - clock) / max(1, len(pending))
    clock = time.perf_counter()
    for cid in pending:
        service.undo(session, project_id=project_id, candidate_id=cid, lead_id=lead)
        session.commit()
    undo_ms = 1000 * (time.perf_counter() - clock) / max(1, len(pending))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"| {n} | {' / '.join(f'{s:.1f}' for s in times)} | {inc['auto_recall']:.4f} | "
          f"{inc['false_merged']} | {inc['queue']} | {full_s:.1f} "
          f"({full.auto_pairs} new auto pairs, {full.merged} records merged, "
          f"{full.pending_pairs} new pending) | "
          f"{decide_ms:.0f} | {undo_ms:.0f} | {peak_mb:.0f} |")
    print(f"  after the imports: {summary.describe()}")


def main() -> None:
    """Parse the options and run the chosen measurements."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labelled", action="store_true")
    parser.add_argument("--scale", type=int, action="append", default=[])
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    if args.labelled:
        run_labelled(args.database_url)
    if args.scale:
        print("| records | seconds per import run (5 imports) | auto recall | false merged | "
              "queue items | full rerun s | decide ms | undo ms | peak MB |")
        print("|---:|---|---:|---:|---:|---|---:|---:|---:|")
    for n in args.scale:
        run_scale(n, args.database_url)


if __name__ == "__main__":
    main()
