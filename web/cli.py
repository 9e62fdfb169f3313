"""The `sieve` command line: each command parses its options, calls one service, prints."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.orm import Session

from review import migrate
from review.config import database_url
from review.db import make_engine, make_sessionmaker
from review.errors import SieveError

# Command modules of the review areas: web/cli_<name>.py, each with register(group).
CLI_AREAS: tuple[str, ...] = ("imports", "dedup", "ranking")

database_option = click.option(
    "--database-url", "url", envvar="DATABASE_URL", default=None, show_envvar=True,
    help="Database URL (default: the embedded SQLite file instance/sieve.db).",
)


@contextmanager
def db_session(url: str | None) -> Iterator[Session]:
    """A session for one command; committed when the block ends without error."""
    engine = make_engine(database_url(url))
    session = make_sessionmaker(engine)()
    try:
        yield session
        session.commit()
    except SieveError as exc:
        session.rollback()
        raise click.ClickException(str(exc)) from exc
    finally:
        session.close()
        engine.dispose()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sieve-review")
def cli() -> None:
    """Sieve: systematic reviews from search exports to PRISMA tables."""


@cli.group()
def db() -> None:
    """Apply or inspect database migrations (Alembic)."""


@db.command("upgrade")
@database_option
@click.option("--revision", default="head", show_default=True)
def db_upgrade(url: str | None, revision: str) -> None:
    """Migrate the database up to a revision. Example: sieve db upgrade."""
    url = database_url(url)
    migrate.upgrade(url, revision)
    click.echo(f"database at revision {migrate.current(url)[0]}")


@db.command("downgrade")
@database_option
@click.option("--revision", default="-1", show_default=True, help='"base" undoes all.')
def db_downgrade(url: str | None, revision: str) -> None:
    """Undo migrations. Example: sieve db downgrade --revision base."""
    url = database_url(url)
    migrate.downgrade(url, revision)
    click.echo(f"database at revision {migrate.current(url)[0] or 'base'}")


@db.command("current")
@database_option
def db_current(url: str | None) -> None:
    """Show the database's revision and the newest one. Example: sieve db current."""
    rev, head = migrate.current(database_url(url))
    click.echo(f"current: {rev or 'base (empty database)'}\nhead:    {head}")
    if rev != head:
        click.echo("run `sieve db upgrade` to bring the database up to date")


def _register_areas() -> None:
    for name in ("core", *CLI_AREAS):
        importlib.import_module(f"web.cli_{name}").register(cli)


_register_areas()


def main() -> None:
    """Entry point of the `sieve` script."""
    cli(prog_name="sieve")


if __name__ == "__main__":  # pragma: no cover
    main()
