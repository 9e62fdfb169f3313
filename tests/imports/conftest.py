"""Fixtures for the import tests: a project with a lead, a reviewer and a viewer; PDFs."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from review.models import AuditEvent, ImportBatch, Project, Record, Source, User
from tests.factories import add_member, make_project, make_user


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


def make_pdf(lines: list[str], title: str | None = None) -> bytes:
    """A one-page PDF with a Helvetica text layer (empty ``lines``: no text, like a scan)."""
    ops = " ".join(f"({line}) Tj 0 -14 Td" for line in lines)
    content = f"BT /F1 11 Tf 72 720 Td {ops} ET" if lines else ""
    info = f"<< /Title ({title}) >>" if title else "<< >>"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        info,
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 6 0 R >>\n"
            f"startxref\n{xref}\n%%EOF\n").encode()
    return out
