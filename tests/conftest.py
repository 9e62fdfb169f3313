"""Shared fixtures: a fresh database per test on SQLite and, with TEST_DATABASE_URL, PostgreSQL."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

import review.models  # noqa: F401
from review.config import normalise_url
from review.db import Base, make_engine
from review.services import users as user_service
from web import create_app

# The live server and Chromium fixtures, registered once for every test folder.
pytest_plugins = ["tests.browser_fixtures"]

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
PG_URL = os.environ.get("TEST_DATABASE_URL")
PASSWORD = "correct horse battery"

# Real Argon2 hashes, with the cheapest parameters: the default costs ~0.4 s a hash.
user_service._hasher = PasswordHasher.from_parameters(CHEAPEST)


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data; the test is skipped where that folder is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not SHARED_DATA.exists():
        pytest.skip("../shared/data is not present on this machine")
    return path


def _reset_postgres(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(424242)"))
        Base.metadata.create_all(conn)
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database with the current schema: SQLite, then PostgreSQL."""
    if request.param == "postgres":
        if not PG_URL:
            pytest.skip("TEST_DATABASE_URL is not set")
        url = normalise_url(PG_URL)
        _reset_postgres(url)
        return url
    url = f"sqlite:///{tmp_path / 'test.db'}"
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    return url


@pytest.fixture
def app(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    instance = tmp_path / "instance"
    instance.mkdir(exist_ok=True)
    monkeypatch.setenv("SIEVE_INSTANCE", str(instance))
    application = create_app({"TESTING": True, "DATABASE_URL": db_url,
                              "SECRET_KEY": "test-secret", "JOBS_INLINE": True})
    yield application
    application.extensions["sieve_engine"].dispose()


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    """A session on the test database; tests commit what the app should see."""
    s = app.extensions["sieve_read_sessionmaker"]()
    yield s
    s.close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(client: FlaskClient, url: str = "/login") -> str:
    """The CSRF token of the client's session, read from a page as a browser would."""
    match = CSRF_RE.search(client.get(url).get_data(as_text=True))
    assert match, f"no csrf token on {url}"
    return match.group(1)


class Auth:
    """Sign a test client in and out."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def login(self, email: str, password: str = PASSWORD):
        token = csrf_from(self.client)
        return self.client.post("/login", data={"email": email, "password": password,
                                                "csrf_token": token})

    def post(self, url: str, data: dict | None = None, **kwargs):
        """POST with the session's CSRF token, as the app's own forms do."""
        payload = dict(data or {})
        payload["csrf_token"] = csrf_from(self.client, "/")
        return self.client.post(url, data=payload, **kwargs)


@pytest.fixture
def auth(client: FlaskClient) -> Auth:
    return Auth(client)
