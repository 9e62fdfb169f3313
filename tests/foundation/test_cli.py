"""The `sieve` command: accounts, projects, migrations, help texts."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from web.cli import cli


@pytest.fixture
def runner(db_url: str) -> CliRunner:
    return CliRunner(env={"DATABASE_URL": db_url})


def test_user_and_project_commands(runner: CliRunner) -> None:
    made = runner.invoke(cli, ["user", "create", "lead@example.org", "--name", "Lead",
                               "--admin", "--password-stdin"], input="s3cret-pass\n")
    assert made.exit_code == 0, made.output
    assert "lead@example.org (admin)" in made.output
    created = runner.invoke(cli, ["project", "create", "SIB review", "--lead", "lead@example.org"])
    assert created.exit_code == 0, created.output
    project_id = int(created.output.strip())
    listed = runner.invoke(cli, ["project", "list"])
    assert f"{project_id}\tSIB review" in listed.output


def test_errors_are_messages_not_tracebacks(runner: CliRunner) -> None:
    short = runner.invoke(cli, ["user", "create", "a@example.org", "--name", "A",
                                "--password-stdin"], input="short\n")
    assert short.exit_code == 1
    assert "at least 8 characters" in short.output and "Traceback" not in short.output
    nobody = runner.invoke(cli, ["project", "create", "X", "--lead", "nobody@example.org"])
    assert nobody.exit_code == 1 and "no account for nobody@example.org" in nobody.output


def test_db_commands(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner(env={"DATABASE_URL": url})
    assert "base (empty database)" in runner.invoke(cli, ["db", "current"]).output
    up = runner.invoke(cli, ["db", "upgrade"])
    assert up.exit_code == 0, up.output
    current = runner.invoke(cli, ["db", "current"]).output
    assert "run `sieve db upgrade`" not in current
    down = runner.invoke(cli, ["db", "downgrade", "--revision", "base"])
    assert down.exit_code == 0 and "base" in down.output


def _commands(group, prefix=()):
    for name, command in group.commands.items():
        path = (*prefix, name)
        if hasattr(command, "commands"):
            yield from _commands(command, path)
        else:
            yield path


def test_every_command_has_help_with_an_example() -> None:
    runner = CliRunner()
    paths = list(_commands(cli))
    assert ("user", "create") in paths and ("serve",) in paths
    for path in paths:
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, path
        assert "Example" in result.output, f"sieve {' '.join(path)} --help has no example"
