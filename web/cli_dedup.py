"""`sieve dedup` (a project) and `sieve dedup-file` (any importable file, no project)."""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import click

import importers
from review.services import dedup as service
from review.services import dedup_queue as queries
from web.cli import database_option, db_session

FORMAT_CHOICES = ("auto", "tsv", *importers.FORMATS)


def register(cli: click.Group) -> None:
    """Add this module's commands to the `sieve` group."""
    cli.add_command(dedup)
    cli.add_command(dedup_file)


@click.command("dedup")
@click.argument("project_id", type=int, metavar="PROJECT")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@database_option
def dedup(project_id: int, as_json: bool, url: str | None) -> None:
    """Deduplicate a whole project now; prints merged, pending, unique. Example: sieve dedup 1."""
    with db_session(url) as session:
        summary = service.dedup_new_records(session, project_id=project_id)
        counts = queries.dedup_counts(session, project_id=project_id)
    if as_json:
        payload = asdict(summary)
        payload["per_source"] = [asdict(s) for s in counts.per_source]
        click.echo(json.dumps(payload, indent=2))
        return
    click.echo(f"records:  {summary.records}")
    click.echo(f"merged:   {summary.duplicates} duplicates in {counts.groups} groups "
               f"({summary.merged} by this run)")
    click.echo(f"pending:  {summary.pending_total} pairs to review "
               f"({summary.pending_pairs} new)")
    click.echo(f"unique:   {summary.unique}")
    click.echo(f"time:     {summary.seconds:.1f} s")


@click.command("dedup-file")
@click.argument("in_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                metavar="IN")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write groups.csv (record_id,group_id,decision,score).")
@click.option("--format", "fmt", type=click.Choice(FORMAT_CHOICES), default="auto",
              show_default=True, help="Force a format instead of sniffing the content.")
def dedup_file(in_path: Path, out_path: Path, fmt: str) -> None:
    """Find duplicates in a file without a project. Example: sieve dedup-file a.ris --out g.csv."""
    try:
        rows = queries.file_rows(in_path.read_bytes(), filename=in_path.name, format=fmt)
    except importers.ImportFormatError as exc:
        raise click.ClickException(str(exc)) from exc
    with out_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["record_id", "group_id", "decision", "score"])
        for record_id, group_id, decision, score in rows:
            writer.writerow([record_id, group_id, decision, "" if score is None else score])
    counts = Counter(decision for _r, _g, decision, _s in rows)
    groups = len({g for _r, g, d, _s in rows if d == "auto"})
    click.echo(f"{len(rows)} records: {counts['auto']} in {groups} automatic groups, "
               f"{counts['review']} to review, {counts['unique']} unique -> {out_path}")
