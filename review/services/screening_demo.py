"""The demo's screening step: a few decisions by the two demo reviewers, one disagreement."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from review.models import Project, Record, User
from review.services.projects import active_reasons
from review.services.screening import next_record, record_decision
from review.services.screening_rules import TITLE_ABSTRACT

N_BOTH = 8  # records both reviewers decide (one of them in disagreement)
N_INCLUDED = 2  # known includes (bundled labels) added so the demo shows some inclusions


def _label_of(record: Record) -> str:
    # The bundled CSV keeps the original review's verdict in label_included (1/0).
    return "include" if str((record.raw or {}).get("label_included", "")) == "1" else "exclude"


def screening_demo_step(session: Session, project: Project, users: dict[str, User]) -> None:
    """Ada screens the top records and a few known includes; Ben the same but the last two.

    Ben disagrees with Ada on the first record, so the conflict queue has one item. Skipped
    when the project has no records (e.g. before the import step).
    """
    reviewers = [u for email, u in users.items() if email.startswith(("ada@", "ben@"))]
    if len(reviewers) < 2:
        return
    ada, ben = sorted(reviewers, key=lambda u: u.email)
    picked: list[Record] = []
    for _ in range(N_BOTH):
        record = next_record(session, project_id=project.id, reviewer_id=ada.id,
                             stage=TITLE_ABSTRACT)
        if record is None:
            break
        picked.append(record)
        _decide(session, project, ada, record, _label_of(record))
    if not picked:
        return
    for record in _known_includes(session, project, exclude={r.id for r in picked}):
        _decide(session, project, ada, record, "include")
        picked.append(record)
    for position, record in enumerate(picked[:-N_INCLUDED] if len(picked) > 2 else picked):
        label = _label_of(record)
        if position == 0:
            label = "include" if label == "exclude" else "exclude"
        _decide(session, project, ben, record, label)


def _known_includes(session: Session, project: Project, exclude: set[int]) -> list[Record]:
    rows = session.scalars(sa.select(Record).where(
        Record.project_id == project.id, Record.canonical_id.is_(None))
        .order_by(Record.rank.is_(None), Record.rank, Record.id).limit(500))
    found = [r for r in rows if r.id not in exclude and _label_of(r) == "include"]
    return found[:N_INCLUDED]


def _decide(session: Session, project: Project, user: User, record: Record, label: str) -> None:
    reasons = active_reasons(session, project_id=project.id)
    reason_id = reasons[1].id if label == "exclude" and len(reasons) > 1 else None
    record_decision(session, project_id=project.id, record_id=record.id, reviewer_id=user.id,
                    stage=TITLE_ABSTRACT, label=label, reason_id=reason_id)
