"""`sieve import`, `sieve convert` and `sieve attach-pdfs`."""

from __future__ import annotations

import json
from pathlib import Path

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

import importers
from review.config import default_instance_path
from review.errors import NotFound, SieveError
from review.models import SOURCE_KINDS, Membership
from review.services import fulltext
from review.services import imports as service
from review.services import users as user_service
from web.cli import database_option, db_session

FORMAT_CHOICES = ("auto", "tsv", *importers.FORMATS)


def register(cli: click.Group) -> None:
    """Add this module's commands to the `sieve` group."""
    cli.add_command(import_cmd)
    cli.add_command(convert)
    cli.add_command(attach_pdfs)


def _actor(session: Session, project_id: int, email: str | None) -> int:
    """The acting user: --as EMAIL, else the project's first lead."""
    if email:
        return user_service.find_user(session, email=email).id
    lead = session.scalar(select(Membership.user_id).where(
        Membership.project_id == project_id, Membership.role == "lead")
        .order_by(Membership.id).limit(1))
    if lead is None:
        raise NotFound(f"no project {project_id}")
    return lead


@click.command("import")
@click.argument("project_id", type=int, metavar="PROJECT")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", "source_name", required=True,
              help="The database, register or method searched (e.g. Scopus).")
@click.option("--source-kind", type=click.Choice(SOURCE_KINDS), default="database",
              show_default=True, help="Used when the source is new.")
@click.option("--format", "fmt", type=click.Choice(FORMAT_CHOICES), default="auto",
              show_default=True, help="Force a format instead of sniffing the content.")
@click.option("--skip-invalid", is_flag=True, help="Import the readable records, list the rest.")
@click.option("--force", is_flag=True, help="Import a file already imported (same SHA-256).")
@click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON.")
@click.option("--as", "as_email", default=None, help="Email of the importing member "
              "(default: the project's first lead).")
@database_option
def import_cmd(project_id: int, files: tuple[Path, ...], source_name: str, source_kind: str,
               fmt: str, skip_invalid: bool, force: bool, as_json: bool,
               as_email: str | None, url: str | None) -> None:
    """Import export files, all or none. Example: sieve import 1 scopus.ris --source Scopus."""
    uploads = [service.UploadedFile(p.name, p.read_bytes(), fmt) for p in files]
    try:
        with db_session(url) as session:
            reports = service.import_files(
                session, project_id=project_id, user_id=_actor(session, project_id, as_email),
                source_name=source_name, source_kind=source_kind, files=uploads,
                skip_invalid=skip_invalid, force=force)
    except click.ClickException as exc:
        if as_json:
            click.echo(json.dumps({"ok": False, "error": exc.message}, indent=2))
            raise SystemExit(1) from exc
        raise
    if as_json:
        click.echo(json.dumps({"ok": True, "files": [r.as_dict() for r in reports]}, indent=2))
        return
    for report in reports:
        _print_report(report)


def _print_report(report: service.ImportReport) -> None:
    click.echo(f"{report.filename}: {report.format} ({report.encoding}), "
               f"{report.n_read} read, {report.n_imported} imported, {report.n_skipped} "
               f"skipped -> batch {report.batch_id}, source {report.source_name}")
    for skipped in report.skipped:
        click.echo(f"  skipped {skipped['locator']}: {skipped['reason']}")


@click.command()
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMAT_CHOICES), default="auto",
              show_default=True, help="The input's format (default: sniffed).")
def convert(source: Path, target: Path, fmt: str) -> None:
    """Convert between formats by file ending. Example: sieve convert refs.ris refs.csv."""
    try:
        data, result = service.convert(source.read_bytes(), filename=source.name,
                                       target=target.name, format=fmt)
    except SieveError as exc:
        raise click.ClickException(str(exc)) from exc
    target.write_bytes(data)
    for problem in result.problems:
        click.echo(f"skipped {source.name}, {problem.locator}: {problem.reason}", err=True)
    click.echo(f"{source.name} ({result.format}) -> {target.name}: "
               f"{len(result.records)} records, {len(result.problems)} skipped")


@click.command("attach-pdfs")
@click.argument("project_id", type=int, metavar="PROJECT")
@click.argument("paths", nargs=-1, required=True,
                type=click.Path(exists=True, path_type=Path))
@click.option("--as", "as_email", default=None, help="Email of the member attaching "
              "(default: the project's first lead).")
@click.option("--json", "as_json", is_flag=True, help="Print the outcomes as JSON.")
@database_option
def attach_pdfs(project_id: int, paths: tuple[Path, ...], as_email: str | None,
                as_json: bool, url: str | None) -> None:
    """Attach full-text PDFs (files, folders or zips). Example: sieve attach-pdfs 1 pdfs.zip."""
    files = [(p.name, p.read_bytes()) for p in _pdf_files(paths)]
    with db_session(url) as session:
        outcomes = fulltext.attach_pdfs(
            session, project_id=project_id, user_id=_actor(session, project_id, as_email),
            files=files, pdf_dir=default_instance_path() / "pdfs")
    if as_json:
        click.echo(json.dumps([o.__dict__ for o in outcomes], indent=2))
        return
    for o in outcomes:
        click.echo(_outcome_line(o))
    attached = sum(o.record_id is not None for o in outcomes)
    click.echo(f"{attached} of {len(outcomes)} PDFs attached; "
               f"{sum(o.method == 'none' for o in outcomes)} unmatched (match them on the web "
               f"page Import > Full texts), {sum(o.method == 'error' for o in outcomes)} refused")


def _outcome_line(o: fulltext.AttachOutcome) -> str:
    if o.method == "error":
        return f"refused {o.message}"
    if o.record_id is None:
        return f"unmatched {o.filename}: {o.message}"
    return f"attached {o.filename} -> record {o.record_id} (by {o.method}, {o.score:.0f})"


def _pdf_files(paths: tuple[Path, ...]) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*") if p.is_file()
                              and p.suffix.lower() in (".pdf", ".zip")))
        else:
            out.append(path)
    return out
