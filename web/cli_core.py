"""`sieve user`, `sieve project`, `sieve serve`, `sieve worker` and `sieve demo`."""

from __future__ import annotations

import sys

import click

from review import migrate
from review.config import database_url
from review.services import demo as demo_service
from review.services import projects as project_service
from review.services import users as user_service
from web.cli import database_option, db_session


def register(cli: click.Group) -> None:
    """Add this module's commands to the `sieve` group."""
    cli.add_command(user)
    cli.add_command(project)
    cli.add_command(serve)
    cli.add_command(worker)
    cli.add_command(demo)


@click.group()
def user() -> None:
    """Manage accounts."""


@user.command("create")
@click.argument("email")
@click.option("--name", required=True, help="The person's name as others see it.")
@click.option("--admin", is_flag=True, help="May create accounts.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@database_option
def user_create(email: str, name: str, admin: bool, password_stdin: bool, url: str | None) -> None:
    """Create an account. Example: sieve user create ana@example.org --name "Ana" --admin."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with db_session(url) as session:
        created = user_service.create_user(session, email=email, name=name, password=password,
                                           is_admin=admin)
        click.echo(f"created user {created.id} {created.email}{' (admin)' if admin else ''}")


@user.command("list")
@database_option
def user_list(url: str | None) -> None:
    """List accounts. Example: sieve user list."""
    with db_session(url) as session:
        for u in user_service.list_users(session):
            click.echo(f"{u.id}\t{u.email}\t{u.name}{chr(9) + 'admin' if u.is_admin else ''}")


@click.group()
def project() -> None:
    """Manage review projects."""


@project.command("create")
@click.argument("title")
@click.option("--lead", "lead_email", required=True, help="Email of the project's first lead.")
@database_option
def project_create(title: str, lead_email: str, url: str | None) -> None:
    """Create a project; prints its id. Example: sieve project create "SIBs" --lead a@b.org."""
    with db_session(url) as session:
        lead = user_service.find_user(session, email=lead_email)
        created = project_service.create_project(session, title=title, lead_id=lead.id)
        click.echo(created.id)


@project.command("list")
@database_option
def project_list(url: str | None) -> None:
    """List projects with their ids. Example: sieve project list."""
    with db_session(url) as session:
        for p in project_service.all_projects(session):
            click.echo(f"{p.id}\t{p.title}")


@project.command("add-member")
@click.argument("project_id", type=int)
@click.argument("email")
@click.option("--role", type=click.Choice(["lead", "reviewer", "viewer"]), default="reviewer",
              show_default=True)
@click.option("--by", "by_email", required=True, help="Email of a lead of the project.")
@database_option
def project_add_member(project_id: int, email: str, role: str, by_email: str,
                       url: str | None) -> None:
    """Add a member with a role. Example: sieve project add-member 1 b@c.org --by a@b.org."""
    with db_session(url) as session:
        lead = user_service.find_user(session, email=by_email)
        project_service.add_member(session, project_id=project_id, by_user_id=lead.id,
                                   email=email, role=role)
        click.echo(f"{email} is {role} of project {project_id}")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@click.option("--debug", is_flag=True, help="Flask's reloading development server instead.")
@click.option("--no-jobs", is_flag=True, help="Run no background jobs here (use `sieve worker`).")
@database_option
def serve(host: str, port: int, threads: int, debug: bool, no_jobs: bool,
          url: str | None) -> None:
    """Serve the web app (waitress). Example: sieve serve --port 8000."""
    from web.server import run_server

    run_server(host=host, port=port, threads=threads, debug=debug, jobs=not no_jobs, url=url)


@click.command()
@click.option("--interval", default=1.0, show_default=True, help="Seconds between polls.")
@database_option
def worker(interval: float, url: str | None) -> None:
    """Run background jobs (dedup, retrain) in this process. Example: sieve worker."""
    from web.server import run_worker

    run_worker(url=url, interval=interval)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Set up the demo and exit.")
@database_option
def demo(host: str, port: int, no_serve: bool, url: str | None) -> None:
    """Set up the demo review (migrations, accounts, records) and serve it. Example: sieve demo."""
    resolved = database_url(url)
    migrate.upgrade(resolved)
    with db_session(resolved) as session:
        info = demo_service.ensure_demo(session)
    click.echo("Demo review ready" + (" (created)" if info.created else " (already there)"))
    click.echo(f"  project id: {info.project_id}")
    for email, name, role in info.accounts:
        click.echo(f"  {role:9s} {email:20s} password: {info.password}   ({name})")
    if not no_serve:
        from web.server import run_server

        run_server(host=host, port=port, threads=8, debug=False, jobs=True, url=resolved)
