"""Many reviewers deciding at once: no record past its quota, no decision lost or doubled."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
import sqlalchemy as sa

from review.db import make_engine, make_sessionmaker
from review.errors import ConflictError
from review.models import Decision, Record
from review.services import screening as s
from tests.factories import add_member, make_project, make_records, make_user

THREADS = 8
PER_THREAD = 50
TA = "title_abstract"


def _setup(factory):
    with factory() as session:
        project = make_project(session)
        reviewers = [make_user(session) for _ in range(THREADS)]
        for user in reviewers:
            add_member(session, project, user, "reviewer")
        # Quotas 1, 2 and 3 mixed: 60 + 60 + 40 records need 60 + 120 + 120 = 300 decisions,
        # fewer than the 400 the threads may make, so every queue runs dry.
        records = (make_records(session, project, 60, quota_ta=1)
                   + make_records(session, project, 60, quota_ta=2)
                   + make_records(session, project, 40, quota_ta=3))
        session.commit()
        return project.id, [u.id for u in reviewers], {r.id: r.quota_ta for r in records}


def _screen(factory, project_id, reviewer_id, stored, conflicts, errors):
    # Up to PER_THREAD decisions each; a lost race (the record filled up meanwhile) costs an
    # attempt, so attempts are bounded separately.
    try:
        for _ in range(4 * PER_THREAD):
            if sum(1 for _, rid in stored if rid == reviewer_id) >= PER_THREAD:
                return
            with factory() as session:
                record = s.next_record(session, project_id=project_id, reviewer_id=reviewer_id,
                                       stage=TA)
                if record is None:
                    return
                try:
                    decision = s.record_decision(
                        session, project_id=project_id, record_id=record.id,
                        reviewer_id=reviewer_id, stage=TA, label="include")
                except ConflictError:
                    session.rollback()
                    conflicts.append(record.id)
                    continue
                session.commit()
                stored.append((decision.record_id, reviewer_id))
    except Exception as exc:  # surfaced in the main thread
        errors.append(exc)


@pytest.mark.slow
def test_threads_deciding_at_once_fill_every_quota_exactly(db_url):
    engine = make_engine(db_url, pool_size=THREADS, max_overflow=4)
    _decide_in_threads(make_sessionmaker(engine))
    engine.dispose()


@pytest.mark.slow
def test_threads_through_the_apps_sessions_fill_every_quota_exactly(app):
    # The app's engine: on SQLite its writers take turns on a lock of the process.
    _decide_in_threads(app.extensions["sieve_sessionmaker"])


def test_a_write_left_open_or_failed_does_not_block_the_next_writer(app):
    factory = app.extensions["sieve_sessionmaker"]
    turn = app.extensions.get("sieve_write_turn")  # SQLite only
    left_open = factory()
    left_open.execute(sa.text("SELECT 1"))
    assert turn is None or turn.locked()  # this writer's turn
    left_open.close()  # never committed
    failed = factory()
    with pytest.raises(sa.exc.DBAPIError):
        failed.execute(sa.text("SELECT * FROM no_such_table"))
    failed.close()
    assert turn is None or not turn.locked()
    done: list[int] = []

    def write() -> None:
        with factory() as session:
            session.execute(sa.text("SELECT 1"))
            session.commit()
            done.append(1)

    thread = threading.Thread(target=write)
    thread.start()
    thread.join(timeout=120)  # a guard against a hang, not a measure of speed
    assert done == [1]


def _decide_in_threads(factory):
    project_id, reviewers, quotas = _setup(factory)
    stored: list[tuple[int, int]] = []
    conflicts: list[int] = []
    errors: list[Exception] = []
    threads = [threading.Thread(target=_screen,
                                args=(factory, project_id, rid, stored, conflicts, errors))
               for rid in reviewers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    with factory() as session:
        rows = session.execute(sa.select(Decision.record_id, Decision.reviewer_id, Decision.slot)
                               .where(Decision.project_id == project_id)).all()
        kept = session.scalar(sa.select(sa.func.count()).select_from(Record)
                              .where(Record.project_id == project_id))
    per_record = Counter(record_id for record_id, _, _ in rows)
    assert per_record == Counter(quotas)  # every record exactly its quota
    assert sorted((r, u) for r, u, _ in rows) == sorted(stored)  # none lost, none doubled
    assert all(1 <= slot <= quotas[r] for r, _, slot in rows)
    assert len(rows) == sum(quotas.values()) == 300 and kept == 160
