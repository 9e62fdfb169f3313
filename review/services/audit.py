"""The audit log: every state change leaves an event in the same transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from review.models import AuditEvent


def log_event(
    session: Session,
    *,
    action: str,
    object_type: str,
    object_id: int | None,
    user_id: int | None,
    project_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add one audit event to the current transaction."""
    event = AuditEvent(
        project_id=project_id,
        user_id=user_id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        before=before,
        after=after,
    )
    session.add(event)
    return event


def project_events(session: Session, *, project_id: int, limit: int = 200) -> list[AuditEvent]:
    """The newest audit events of a project."""
    stmt = (
        select(AuditEvent)
        .where(AuditEvent.project_id == project_id)
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))
