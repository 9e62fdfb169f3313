"""One database session per request, cached on g and closed at teardown."""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from review.db import make_engine, make_sessionmaker

# A writer waits at most this long for another thread's write (SQLite's own busy timeout);
# after that it goes on and leaves the waiting to SQLite.
WRITE_WAIT_S = 30.0
_HELD = "sieve_write_turn"


def init_app(app: Flask) -> None:
    """Create the engine and session factory for this app."""
    engine = make_engine(app.config["DATABASE_URL"])
    if engine.dialect.name == "sqlite":
        app.extensions["sieve_write_turn"] = _take_turns_writing(engine)
    app.extensions["sieve_engine"] = engine
    app.extensions["sieve_sessionmaker"] = make_sessionmaker(engine)
    app.extensions["sieve_read_sessionmaker"] = make_sessionmaker(engine, write=False)
    app.teardown_appcontext(close_session)


def get_session() -> Session:
    """The request's session; GET and HEAD requests get one that only reads."""
    if "db_session" not in g:
        reads_only = has_request_context() and request.method in ("GET", "HEAD")
        key = "sieve_read_sessionmaker" if reads_only else "sieve_sessionmaker"
        g.db_session = current_app.extensions[key]()
    return g.db_session


def replace_session(*, write: bool) -> Session:
    """Close the request's session (rolling back what it did not commit) and open a new one.

    ``write=False`` gives one that only reads (on SQLite it takes no lock).
    """
    close_session()
    key = "sieve_sessionmaker" if write else "sieve_read_sessionmaker"
    g.db_session = current_app.extensions[key]()
    return g.db_session


def close_session(_exc: BaseException | None = None) -> None:
    """Close the request's session; an uncommitted transaction is rolled back."""
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def _take_turns_writing(engine: Engine) -> threading.Lock:
    """Writing transactions of this process on SQLite take turns on a Python lock.

    Writing sessions begin with BEGIN IMMEDIATE; a second writer in the same process would
    otherwise poll SQLite's lock with growing sleeps (up to 100 ms each) and often wake long
    after the first has committed. Here it waits on a Python lock and goes on as soon as the
    first commits or rolls back. Other processes still meet SQLite's own lock.
    """
    turn = threading.Lock()

    def take(conn: Any) -> None:
        if conn.get_execution_options().get("sqlite_immediate") and _HELD not in conn.info:
            conn.info[_HELD] = turn.acquire(timeout=WRITE_WAIT_S)

    def give(info: dict[str, Any]) -> None:
        if info.pop(_HELD, False):
            turn.release()

    # Before review.db's listener sends BEGIN IMMEDIATE; released as the transaction ends,
    # and when the connection goes back to the pool whatever happened (an error on BEGIN).
    event.listen(engine, "begin", take, insert=True)
    event.listen(engine, "commit", lambda conn: give(conn.info))
    event.listen(engine, "rollback", lambda conn: give(conn.info))
    event.listen(engine.pool, "checkin", lambda _dbapi, record: give(record.info))
    return turn
