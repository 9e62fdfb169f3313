"""Fixtures of the deduplication tests: a team, labelled records from ../shared/data/dedup."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from review.jobs import run_job
from review.models import Job, Project, Record, User
from review.services import imports
from tests.conftest import shared_data
from tests.factories import add_member, make_project, make_user

COLUMNS = ("record_id", "title", "authors", "year", "journal", "volume", "issue", "pages", "doi",
           "abstract")


@dataclass
class Team:
    """A project with one member of each role."""

    project: Project
    lead: User
    reviewer: User
    viewer: User


@pytest.fixture
def team(session: Session) -> Team:
    lead, reviewer, viewer = make_user(session), make_user(session), make_user(session)
    project = make_project(session, lead=lead)
    add_member(session, project, reviewer, "reviewer")
    add_member(session, project, viewer, "viewer")
    session.commit()
    return Team(project, lead, reviewer, viewer)


def labelled_rows(name: str) -> list[dict[str, str]]:
    """The rows of a labelled dedup set (rows without a record_id left out)."""
    path = shared_data("dedup", f"{name}.csv")
    with path.open(newline="", encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle) if row["record_id"].strip()]


def first_groups(rows: list[dict[str, str]], n_groups: int) -> list[dict[str, str]]:
    """Every row of the first ``n_groups`` true groups (in file order)."""
    by_group: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_group[row["true_group"]].append(row)
    chosen = list(by_group)[:n_groups]
    return [row for g in chosen for row in by_group[g]]


def csv_bytes(rows: list[dict[str, str]]) -> bytes:
    """A CSV export of the rows, as a search database would give it."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def import_rows(session: Session, team: Team, rows: list[dict[str, str]], source: str,
                filename: str) -> list[int]:
    """Import rows through the import service (as a lead would); returns the new record ids."""
    report = imports.import_file(session, project_id=team.project.id, user_id=team.lead.id,
                                 source_name=source, filename=filename, data=csv_bytes(rows))
    session.commit()
    ids = list(session.scalars(sa.select(Record.id).where(Record.batch_id == report.batch_id)))
    session.commit()  # end the read so the job's writes do not leave this session's view stale
    return ids


def run_dedup_jobs(app: Flask) -> list[Job]:
    """Run the queued dedup jobs now (their debounce delay skipped); returns them, finished."""
    factory = app.extensions["sieve_sessionmaker"]
    with factory() as s:
        ids = list(s.scalars(sa.select(Job.id).where(Job.kind == "dedup",
                                                    Job.status == "queued").order_by(Job.id)))
    done = []
    for job_id in ids:
        with factory() as s:
            job = s.get(Job, job_id)
            job.status = "running"
            s.commit()
            run_job(s, job)
            done.append(s.get(Job, job_id))
    return done


def record(session: Session, project: Project, **fields: object) -> Record:
    """One record with the given fields (no batch)."""
    rec = Record(project_id=project.id, **fields)
    session.add(rec)
    session.flush()
    return rec
