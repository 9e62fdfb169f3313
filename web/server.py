"""Running the app: waitress with a background-job thread, or a standalone job worker."""

from __future__ import annotations

import logging
import signal
import threading

import click

from review import jobs_registry  # noqa: F401  (registers every job handler)
from review.config import database_url
from review.db import make_engine, make_sessionmaker
from review.jobs import Worker


def run_server(*, host: str, port: int, threads: int, debug: bool, jobs: bool,
               url: str | None) -> None:
    """Serve the app; with ``jobs`` a worker thread runs background jobs in this process."""
    from web import create_app

    app = create_app({"DATABASE_URL": database_url(url)})
    worker = None
    if jobs:
        worker = Worker(app.extensions["sieve_sessionmaker"])
        worker.start()
    click.echo(f"Sieve at http://{host}:{port}/  (Ctrl-C to stop)")
    try:
        if debug:
            app.run(host=host, port=port, debug=True, use_reloader=False)
        else:
            from waitress import serve

            logging.getLogger("waitress").setLevel(logging.WARNING)
            serve(app, host=host, port=port, threads=threads, ident="sieve")
    finally:
        if worker is not None:
            worker.stop()


def run_worker(*, url: str | None, interval: float) -> None:
    """Run background jobs until interrupted."""
    logging.basicConfig(level=logging.INFO)
    factory = make_sessionmaker(make_engine(database_url(url)))
    worker = Worker(factory, interval=interval)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    worker.start()
    click.echo("Sieve worker running jobs (Ctrl-C to stop)")
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    worker.stop()
    worker.join(timeout=30)
