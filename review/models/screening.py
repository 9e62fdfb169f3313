"""Screening decisions, conflict resolutions, pilot rounds and stopping events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from review.db import Base, utcnow

LABELS = ("include", "exclude", "maybe")


class Decision(Base):
    """A reviewer's current decision on a record at a stage.

    One per (record, stage, reviewer); ``slot`` numbers the decisions of a record at a stage
    from 1 to its quota, and its uniqueness is what stops two reviewers working at once from
    pushing a record past its quota. Changes are kept in the audit log.
    """

    __tablename__ = "decisions"
    __table_args__ = (
        sa.UniqueConstraint("record_id", "stage", "reviewer_id"),
        sa.UniqueConstraint("record_id", "stage", "slot"),
        sa.CheckConstraint("label IN ('include', 'exclude', 'maybe')", name="label"),
        sa.CheckConstraint("stage IN ('title_abstract', 'full_text')", name="stage"),
        sa.Index("ix_decisions_reviewer", "project_id", "stage", "reviewer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    record_id: Mapped[int] = mapped_column(sa.ForeignKey("records.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(sa.String(20))
    reviewer_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    slot: Mapped[int] = mapped_column()
    label: Mapped[str] = mapped_column(sa.String(10))
    reason_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("exclusion_reasons.id", ondelete="SET NULL")
    )
    note: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class ScreeningClaim(Base):
    """A record held for a reviewer who was just shown it, so others are shown other records.

    A hint, not a lock: it counts toward the record's quota in other reviewers' queues until it
    expires or the reviewer decides; the decision itself is still guarded by the slot.
    """

    __tablename__ = "screening_claims"
    __table_args__ = (
        sa.UniqueConstraint("record_id", "stage", "reviewer_id"),
        sa.Index("ix_screening_claims_reviewer", "reviewer_id", "stage"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(sa.ForeignKey("records.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(sa.String(20))
    reviewer_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class Resolution(Base):
    """A lead's final decision on a record at a stage (a conflict's outcome)."""

    __tablename__ = "resolutions"
    __table_args__ = (
        sa.UniqueConstraint("record_id", "stage"),
        sa.CheckConstraint("label IN ('include', 'exclude')", name="label"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    record_id: Mapped[int] = mapped_column(sa.ForeignKey("records.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(sa.String(20))
    lead_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    label: Mapped[str] = mapped_column(sa.String(10))
    reason_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("exclusion_reasons.id", ondelete="SET NULL")
    )
    note: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class PilotRound(Base):
    """N random records every reviewer screens before full screening, to measure agreement."""

    __tablename__ = "pilot_rounds"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    stage: Mapped[str] = mapped_column(sa.String(20), default="title_abstract")
    record_ids: Mapped[list[Any]] = mapped_column(default=list)
    seed: Mapped[int] = mapped_column(default=0)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class PilotDecision(Base):
    """A decision made in a pilot round; kept apart from the quota-bound decisions."""

    __tablename__ = "pilot_decisions"
    __table_args__ = (sa.UniqueConstraint("pilot_id", "record_id", "reviewer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pilot_id: Mapped[int] = mapped_column(sa.ForeignKey("pilot_rounds.id", ondelete="CASCADE"))
    record_id: Mapped[int] = mapped_column(sa.ForeignKey("records.id", ondelete="CASCADE"))
    reviewer_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    label: Mapped[str] = mapped_column(sa.String(10))
    reason_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("exclusion_reasons.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class StopEvent(Base):
    """A lead stopped screening a stage on a rule; the evidence is kept for the report."""

    __tablename__ = "stop_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    stage: Mapped[str] = mapped_column(sa.String(20))
    rule: Mapped[str] = mapped_column(sa.String(100))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    n_excluded: Mapped[int] = mapped_column(default=0)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    undone_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
