"""Extraction forms, per-extractor entries and consensus values."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from review.db import Base, utcnow


class ExtractionForm(Base):
    """A versioned extraction form: its fields and their types."""

    __tablename__ = "extraction_forms"
    __table_args__ = (sa.UniqueConstraint("project_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(default=1)
    title: Mapped[str] = mapped_column(sa.String(300), default="")
    fields: Mapped[list[Any]] = mapped_column(default=list)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class ExtractionEntry(Base):
    """One extractor's values for one record on one form version."""

    __tablename__ = "extraction_entries"
    __table_args__ = (
        sa.UniqueConstraint("form_id", "record_id", "extractor_id"),
        sa.CheckConstraint("status IN ('draft', 'submitted')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(sa.ForeignKey("extraction_forms.id", ondelete="CASCADE"))
    record_id: Mapped[int] = mapped_column(
        sa.ForeignKey("records.id", ondelete="CASCADE"), index=True
    )
    extractor_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    values: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(sa.String(16), default="draft")
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class ExtractionConsensus(Base):
    """The agreed values for a record after dual extraction."""

    __tablename__ = "extraction_consensus"
    __table_args__ = (sa.UniqueConstraint("form_id", "record_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(sa.ForeignKey("extraction_forms.id", ondelete="CASCADE"))
    record_id: Mapped[int] = mapped_column(sa.ForeignKey("records.id", ondelete="CASCADE"))
    values: Mapped[dict[str, Any]] = mapped_column(default=dict)
    lead_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
