"""Review projects, their members, protocol and exclusion reasons."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from review.db import Base, utcnow

if TYPE_CHECKING:
    from review.models.users import User

ROLES = ("lead", "reviewer", "viewer")
STAGES = ("title_abstract", "full_text")


class Project(Base):
    """A systematic review: its protocol and screening settings."""

    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(300))
    question: Mapped[str] = mapped_column(sa.Text, default="")
    inclusion_criteria: Mapped[str] = mapped_column(sa.Text, default="")
    exclusion_criteria: Mapped[str] = mapped_column(sa.Text, default="")
    include_terms: Mapped[list[Any]] = mapped_column(default=list)
    exclude_terms: Mapped[list[Any]] = mapped_column(default=list)
    # Independent decisions each record needs per stage (1 to 3).
    reviewers_ta: Mapped[int] = mapped_column(default=2)
    reviewers_ft: Mapped[int] = mapped_column(default=2)
    # Mixed quota: this share of records gets `reviewers_*`, the rest one reviewer. None = all.
    dual_fraction_ta: Mapped[float | None] = mapped_column(sa.Float)
    dual_fraction_ft: Mapped[float | None] = mapped_column(sa.Float)
    reason_required_ta: Mapped[bool] = mapped_column(default=False)
    conflict_on_reason_ft: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="project", cascade="all, delete-orphan"
    )
    reasons: Mapped[list[ExclusionReason]] = relationship(
        back_populates="project", order_by="ExclusionReason.position", cascade="all, delete-orphan"
    )


class Membership(Base):
    """A user's role in one project."""

    __tablename__ = "memberships"
    __table_args__ = (
        sa.UniqueConstraint("project_id", "user_id"),
        sa.CheckConstraint("role IN ('lead', 'reviewer', 'viewer')", name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    project: Mapped[Project] = relationship(back_populates="memberships")
    user: Mapped[User] = relationship()


class ExclusionReason(Base):
    """One entry of the project's ordered, shared list of exclusion reasons."""

    __tablename__ = "exclusion_reasons"
    __table_args__ = (sa.UniqueConstraint("project_id", "label"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(default=0)
    label: Mapped[str] = mapped_column(sa.String(200))
    active: Mapped[bool] = mapped_column(default=True)

    project: Mapped[Project] = relationship(back_populates="reasons")
