"""Fixtures for the screening flow: a project with a lead, two reviewers, a viewer, records."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from review.models import Project, Record, User
from review.services.projects import active_reasons
from tests.factories import add_member, make_project, make_records, make_user


@dataclass
class Team:
    """A project ready to screen."""

    project: Project
    lead: User
    ada: User
    ben: User
    cat: User
    viewer: User
    records: list[Record]

    @property
    def pid(self) -> int:
        return self.project.id


@pytest.fixture
def team(session: Session) -> Team:
    lead, ada, ben, cat, viewer = (make_user(session) for _ in range(5))
    project = make_project(session, lead=lead, include_terms=["impact bond"],
                           exclude_terms=["mice"])
    for user in (ada, ben, cat):
        add_member(session, project, user, "reviewer")
    add_member(session, project, viewer, "viewer")
    records = make_records(session, project, 6)
    session.commit()
    return Team(project, lead, ada, ben, cat, viewer, records)


def reason_ids(session: Session, project_id: int) -> list[int]:
    """The project's exclusion reasons, in order."""
    return [r.id for r in active_reasons(session, project_id=project_id)]
