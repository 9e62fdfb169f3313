"""Sources, import batches, records and duplicate candidates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from review.db import Base, utcnow

SOURCE_KINDS = ("database", "register", "other")


class Source(Base):
    """A database or register searched, or an 'other method' (PRISMA splits them)."""

    __tablename__ = "sources"
    __table_args__ = (
        sa.UniqueConstraint("project_id", "name"),
        sa.CheckConstraint("kind IN ('database', 'register', 'other')", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(16), default="database")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class ImportBatch(Base):
    """One uploaded file: what it was, who brought it, what came of it."""

    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    source_id: Mapped[int] = mapped_column(sa.ForeignKey("sources.id"))
    filename: Mapped[str] = mapped_column(sa.String(500))
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    format: Mapped[str] = mapped_column(sa.String(32))
    encoding: Mapped[str | None] = mapped_column(sa.String(32))
    n_read: Mapped[int] = mapped_column(default=0)
    n_imported: Mapped[int] = mapped_column(default=0)
    n_skipped: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[list[Any]] = mapped_column(default=list)
    mapping: Mapped[dict[str, Any] | None] = mapped_column()
    forced: Mapped[bool] = mapped_column(default=False)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class Record(Base):
    """A bibliographic record as imported, normalised, with its raw fields kept.

    A duplicate points at its kept record through ``canonical_id``; nothing is deleted.
    """

    __tablename__ = "records"
    __table_args__ = (
        # Covers the screening queue and progress queries (no row reads over 10,000+ records),
        # and through its first three columns the ranking's kept count and top-rank reads.
        sa.Index("ix_records_screening", "project_id", "canonical_id", "rank",
                 "auto_excluded_by_id", "quota_ta", "quota_ft"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    batch_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("import_batches.id", ondelete="CASCADE"), index=True
    )
    source_record_id: Mapped[str | None] = mapped_column(sa.String(200))
    title: Mapped[str | None] = mapped_column(sa.Text)
    abstract: Mapped[str | None] = mapped_column(sa.Text)
    authors: Mapped[list[Any]] = mapped_column(default=list)
    year: Mapped[int | None] = mapped_column()
    journal: Mapped[str | None] = mapped_column(sa.Text)
    volume: Mapped[str | None] = mapped_column(sa.String(100))
    issue: Mapped[str | None] = mapped_column(sa.String(100))
    pages: Mapped[str | None] = mapped_column(sa.String(100))
    doi: Mapped[str | None] = mapped_column(sa.String(300), index=True)
    pmid: Mapped[str | None] = mapped_column(sa.String(40))
    issn: Mapped[str | None] = mapped_column(sa.String(100))
    isbn: Mapped[str | None] = mapped_column(sa.String(100))
    url: Mapped[str | None] = mapped_column(sa.Text)
    keywords: Mapped[list[Any]] = mapped_column(default=list)
    language: Mapped[str | None] = mapped_column(sa.String(100))
    publication_type: Mapped[str | None] = mapped_column(sa.String(200))
    publisher: Mapped[str | None] = mapped_column(sa.Text)
    raw: Mapped[dict[str, Any]] = mapped_column(default=dict)
    locator: Mapped[str | None] = mapped_column(sa.String(100))
    # Deduplication: a duplicate points at the record kept for its group.
    canonical_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("records.id", ondelete="SET NULL"), index=True
    )
    # Full text.
    full_text: Mapped[str | None] = mapped_column(sa.Text)
    pdf_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    pdf_filename: Mapped[str | None] = mapped_column(sa.String(500))
    # Ranking, written by the retrain job.
    score: Mapped[float | None] = mapped_column(sa.Float)
    rank: Mapped[int | None] = mapped_column()
    model_run_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("model_runs.id", ondelete="SET NULL")
    )
    # Decisions needed per stage, drawn once when a mixed quota is set; None = project default.
    quota_ta: Mapped[int | None] = mapped_column()
    quota_ft: Mapped[int | None] = mapped_column()
    # Set when a lead stopped screening on a rule and this record was never screened.
    auto_excluded_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("stop_events.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class DuplicateCandidate(Base):
    """A pair of records that may be the same work, with the engine's reasons."""

    __tablename__ = "duplicate_candidates"
    __table_args__ = (
        sa.UniqueConstraint("record_a_id", "record_b_id"),
        sa.CheckConstraint(
            "status IN ('auto', 'pending', 'confirmed', 'rejected')", name="status"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    record_a_id: Mapped[int] = mapped_column(sa.ForeignKey("records.id", ondelete="CASCADE"))
    record_b_id: Mapped[int] = mapped_column(
        sa.ForeignKey("records.id", ondelete="CASCADE"), index=True
    )
    score: Mapped[float] = mapped_column(sa.Float, default=0.0)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    flagged_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    decided_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    decided_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
