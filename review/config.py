"""Settings shared by the web app and the command line."""

from __future__ import annotations

import os
from pathlib import Path


def default_instance_path() -> Path:
    """Where the embedded database, PDFs and caches live: ./instance unless SIEVE_INSTANCE."""
    return Path(os.environ.get("SIEVE_INSTANCE", "instance")).resolve()


def sqlite_url(instance_path: Path) -> str:
    """The embedded SQLite database inside the instance folder."""
    return f"sqlite:///{instance_path / 'sieve.db'}"


def database_url(explicit: str | None = None, instance_path: Path | None = None) -> str:
    """The database to use: explicit value, then DATABASE_URL, then the embedded SQLite file."""
    url = explicit or os.environ.get("DATABASE_URL") or os.environ.get("SIEVE_DATABASE_URL")
    if url:
        return normalise_url(url)
    return sqlite_url(instance_path or default_instance_path())


def normalise_url(url: str) -> str:
    """Accept plain postgres:// URLs and route them to psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url
