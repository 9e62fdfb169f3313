"""The counts on a project's dashboard, derived from the data (never typed in)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from review.models import Record
from review.services.conflicts import stage_outcomes
from screening.conflicts import CONFLICT


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
    """Count records, duplicates, screened, conflicts and included for a project.

    Conflicts and included follow screening.conflicts.outcome (the rule the conflict queue
    uses): a record counts once it has all its decisions, maybe counts as include, and a
    lead's resolution overrides the reviewers.
    """
    total, dupes = session.execute(
        sa.select(sa.func.count(), sa.func.count(Record.canonical_id))
        .where(Record.project_id == project_id)
    ).one()
    outcomes = stage_outcomes(session, project_id=project_id, stage="title_abstract")
    # Every record with a decision is there; so is one whose decisions were all undone after a
    # lead resolved it (the lead's decision still screened it).
    screened = len(outcomes)
    return ProjectCounts(
        records=total, duplicates=dupes, unique=total - dupes, screened=screened,
        conflicts=sum(1 for out in outcomes.values() if out.status == CONFLICT),
        included=sum(1 for out in outcomes.values() if out.included),
    )
