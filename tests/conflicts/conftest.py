"""A project with a lead, two reviewers, a viewer and records; decisions stored directly."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from review.models import Decision, ExclusionReason, Project, Record, User
from tests.factories import add_member, make_project, make_records, make_user


def decide(session, record: Record, reviewer: User, label: str, *, stage: str = "title_abstract",
           reason_id: int | None = None, note: str | None = None) -> Decision:
    """Store a reviewer's decision with the next free slot, as the screening service does."""
    slot = 1 + (session.scalar(sa.select(sa.func.count()).select_from(Decision).where(
        Decision.record_id == record.id, Decision.stage == stage)) or 0)
    decision = Decision(project_id=record.project_id, record_id=record.id, stage=stage,
                        reviewer_id=reviewer.id, slot=slot, label=label, reason_id=reason_id,
                        note=note)
    session.add(decision)
    session.flush()
    return decision


@dataclass
class Team:
    project: Project
    lead: User
    alice: User
    bob: User
    viewer: User
    records: list[Record]
    reasons: list[ExclusionReason]


@pytest.fixture
def team(session) -> Team:
    lead = make_user(session, name="Lena Lead")
    project = make_project(session, lead=lead, title="Conflicts review")
    alice, bob = make_user(session, name="Alice"), make_user(session, name="Bob")
    viewer = make_user(session, name="Vic Viewer")
    add_member(session, project, alice, "reviewer")
    add_member(session, project, bob, "reviewer")
    add_member(session, project, viewer, "viewer")
    records = make_records(session, project, 6)
    reasons = list(session.scalars(sa.select(ExclusionReason).where(
        ExclusionReason.project_id == project.id).order_by(ExclusionReason.position)))
    session.commit()
    return Team(project, lead, alice, bob, viewer, records, reasons)
