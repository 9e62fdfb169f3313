"""Factories: deterministic unique defaults; each flushes and returns the object."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy.orm import Session

from review.models import Membership, Project, Record, User
from review.services import projects as project_service
from review.services import users as user_service
from tests.conftest import PASSWORD

_seq = itertools.count(1)


def make_user(session: Session, *, email: str | None = None, name: str | None = None,
              is_admin: bool = False) -> User:
    n = next(_seq)
    return user_service.create_user(session, email=email or f"user{n}@example.org",
                                    name=name or f"User {n}", password=PASSWORD,
                                    is_admin=is_admin)


def make_project(session: Session, *, lead: User | None = None, title: str | None = None,
                 **protocol: Any) -> Project:
    lead = lead or make_user(session)
    return project_service.create_project(session, title=title or f"Review {next(_seq)}",
                                          lead_id=lead.id, **protocol)


def add_member(session: Session, project: Project, user: User, role: str) -> Membership:
    membership = Membership(project_id=project.id, user_id=user.id, role=role)
    session.add(membership)
    session.flush()
    return membership


def make_records(session: Session, project: Project, n: int = 3, **fields: Any) -> list[Record]:
    records = []
    for _ in range(n):
        k = next(_seq)
        values = {"title": f"Record {k} on social impact bonds", "abstract": f"Abstract {k}.",
                  "authors": [f"Author{k}, A."], "year": 2000 + k % 25}
        values.update(fields)
        records.append(Record(project_id=project.id, **values))
    session.add_all(records)
    session.flush()
    return records
