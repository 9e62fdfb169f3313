"""One database session per request, cached on g and closed at teardown."""

from __future__ import annotations

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy.orm import Session

from review.db import make_engine, make_sessionmaker


def init_app(app: Flask) -> None:
    """Create the engine and session factory for this app."""
    engine = make_engine(app.config["DATABASE_URL"])
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


def close_session(_exc: BaseException | None = None) -> None:
    """Close the request's session; an uncommitted transaction is rolled back."""
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
