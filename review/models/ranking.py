"""Model runs and the cached feature matrix of a project."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from review.db import Base, utcnow


class ModelRun(Base):
    """One retrain of the ranker: what it saw, how long it took, how it did."""

    __tablename__ = "model_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    stage: Mapped[str] = mapped_column(sa.String(20), default="title_abstract")
    model_name: Mapped[str] = mapped_column(sa.String(100))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    n_labels: Mapped[int] = mapped_column(default=0)
    n_included: Mapped[int] = mapped_column(default=0)
    duration_s: Mapped[float] = mapped_column(sa.Float, default=0.0)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    trained_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class FeatureSet(Base):
    """The project's feature matrix, built once and reused until its records change."""

    __tablename__ = "feature_sets"

    project_id: Mapped[int] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    fingerprint: Mapped[str] = mapped_column(sa.String(64))
    data: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class RecordsVersion(Base):
    """A counter per project, raised whenever its records' texts or duplicate groups change.

    The cached features are keyed by it (with the ids of the kept records), so a retrain can
    tell whether they are stale without reading a single title or abstract.
    """

    __tablename__ = "records_versions"

    project_id: Mapped[int] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(default=0)
    changed_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
