"""Browser fixtures: the real app served by waitress on a free port, driven by Chromium.

``live_server`` serves ``create_app`` against a fresh SQLite file in a thread (one per test);
``browser_page`` is a fresh Playwright page (own cookies) in a shared Chromium; ``new_page``
makes more pages, for tests with two people at once; ``sign_in`` logs a page in.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

import review.models  # noqa: F401  (every table on the metadata)
from review.db import Base, make_engine

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@dataclass
class LiveServer:
    """A running app: its base URL, the Flask app and a way to open database sessions."""

    url: str
    app: Flask
    database_url: str

    def session(self) -> Session:
        """A writing session on the served database (commit what the browser should see)."""
        factory: sessionmaker = self.app.extensions["sieve_sessionmaker"]
        return factory()


@pytest.fixture
def live_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    """The app served for real (waitress, own thread) on 127.0.0.1 against a new SQLite file."""
    from waitress import create_server

    from web import create_app

    url = f"sqlite:///{tmp_path / 'live.db'}"
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    instance = tmp_path / "instance"
    instance.mkdir()
    monkeypatch.setenv("SIEVE_INSTANCE", str(instance))
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "browser-test", "JOBS_INLINE": True})
    server = create_server(app, host="127.0.0.1", port=0, threads=4, ident="sieve-test")
    stopping = threading.Event()
    thread = threading.Thread(target=_serve, args=(server, stopping), daemon=True)
    thread.start()
    yield LiveServer(url=f"http://127.0.0.1:{server.effective_port}", app=app, database_url=url)
    stopping.set()
    server.task_dispatcher.shutdown()
    # Closing every channel empties waitress's socket map, which ends its loop.
    for channel in list(server._map.values()):
        channel.close()
    thread.join(timeout=5)
    app.extensions["sieve_engine"].dispose()


def _serve(server: Any, stopping: threading.Event) -> None:
    try:
        server.run()
    except (OSError, ValueError):
        # A select() already waiting on a socket closed by the teardown; nothing is lost.
        if not stopping.is_set():
            raise


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One headless Chromium (Debian's) for the whole test session."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(chromium: Any) -> Iterator[Callable[[], Any]]:
    """A factory of pages, each in its own browser context (own cookies: one person each)."""
    contexts: list[Any] = []

    def make() -> Any:
        context = chromium.new_context()
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def browser_page(new_page: Callable[[], Any]) -> Any:
    """A fresh page with its own cookies."""
    return new_page()


@pytest.fixture
def sign_in(live_server: LiveServer) -> Callable[[Any, str, str], None]:
    """Sign a page in through the login form, as a person would."""

    def do(page: Any, email: str, password: str) -> None:
        page.goto(f"{live_server.url}/login")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(lambda u: "/login" not in u)

    return do
