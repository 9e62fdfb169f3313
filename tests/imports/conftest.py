"""Fixtures for the import tests: a project with a lead, a reviewer and a viewer; PDFs."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from review.models import AuditEvent, ImportBatch, Project, Record, Source, User
from tests.factories import add_member, make_project, make_user
from tests.pdfs import make_pdf  # noqa: F401  (re-exported for the import tests)


@dataclass
class Team:
    project: Project
    lead: User
    reviewer: User
    viewer: User
    outsider: User


@pytest.fixture
def team(session: Session) -> Team:
    lead, reviewer, viewer, outsider = (make_user(session) for _ in range(4))
    project = make_project(session, lead=lead)
    add_member(session, project, reviewer, "reviewer")
    add_member(session, project, viewer, "viewer")
    session.commit()
    return Team(project, lead, reviewer, viewer, outsider)


def stored(session: Session, project_id: int) -> dict[str, int]:
    """How many records, batches, sources and import audit events the project has."""
    session.rollback()  # a fresh snapshot: see what other sessions committed

    def count(model: type, *where: sa.ColumnElement[bool]) -> int:
        return session.scalar(sa.select(sa.func.count()).select_from(model).where(*where)) or 0

    return {
        "records": count(Record, Record.project_id == project_id),
        "batches": count(ImportBatch, ImportBatch.project_id == project_id),
        "sources": count(Source, Source.project_id == project_id),
        "events": count(AuditEvent, AuditEvent.project_id == project_id,
                        AuditEvent.action == "import.file"),
    }


def ris_records_in(text: str) -> int:
    """Records in RIS text, counted by their ER lines (independently of the parser)."""
    return sum(1 for line in text.splitlines() if line.startswith("ER  -"))


