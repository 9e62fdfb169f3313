"""The counts on a project's dashboard, derived from the data (never typed in)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from review.models import Decision, Record, Resolution


@dataclass(frozen=True)
class ProjectCounts:
    """What the dashboard shows for a project."""

    records: int  # all imported records
    duplicates: int  # records merged into another
    unique: int  # records left after deduplication
    screened: int  # unique records with at least one title/abstract decision
    conflicts: int  # records where reviewers disagree and no lead has resolved it
    included: int  # records passing title/abstract screening (agreed or resolved)


def project_counts(session: Session, *, project_id: int) -> ProjectCounts:
    """Count records, duplicates, screened, conflicts and included for a project."""
    total, dupes = session.execute(
        sa.select(sa.func.count(), sa.func.count(Record.canonical_id))
        .where(Record.project_id == project_id)
    ).one()
    stage = "title_abstract"
    per_record = (
        sa.select(
            Decision.record_id,
            sa.func.count().label("n"),
            sa.func.sum(sa.case((Decision.label == "exclude", 1), else_=0)).label("n_ex"),
        )
        .join(Record, Record.id == Decision.record_id)
        .where(Decision.project_id == project_id, Decision.stage == stage,
               Record.canonical_id.is_(None))
        .group_by(Decision.record_id)
        .subquery()
    )
    resolved = (sa.select(Resolution.record_id, Resolution.label)
                .where(Resolution.project_id == project_id, Resolution.stage == stage)
                .subquery())
    screened, conflicts, agreed_in, resolved_in = session.execute(
        sa.select(
            sa.func.count(),
            sa.func.sum(sa.case(((per_record.c.n_ex > 0) & (per_record.c.n_ex < per_record.c.n)
                                 & resolved.c.label.is_(None), 1), else_=0)),
            sa.func.sum(sa.case(((per_record.c.n_ex == 0) & resolved.c.label.is_(None), 1),
                                else_=0)),
            sa.func.sum(sa.case((resolved.c.label == "include", 1), else_=0)),
        )
        .select_from(per_record)
        .outerjoin(resolved, resolved.c.record_id == per_record.c.record_id)
    ).one()
    return ProjectCounts(
        records=total, duplicates=dupes, unique=total - dupes, screened=screened,
        conflicts=int(conflicts or 0), included=int(agreed_in or 0) + int(resolved_in or 0),
    )
