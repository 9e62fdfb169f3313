"""Mixed quotas: draw which records get dual screening ("2 reviewers for 20%, 1 for the rest")."""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from sqlalchemy.orm import Session

from review.models import Decision, Project, Record
from review.services.audit import log_event
from review.services.projects import LEAD, require_project
from review.services.screening_rules import TITLE_ABSTRACT, check_stage, in_stage
from screening.assignment import draw_quota

CHUNK = 500


def apply_quota(
    session: Session, *, project_id: int, stage: str, seed: int, user_id: int | None = None
) -> dict[int, int]:
    """Draw the quota of every record not yet drawn at ``stage``; returns {record id: quota}.

    Only when the project has a dual-screening share for the stage; records already drawn or
    already decided keep what they have, so drawing again after an import only assigns the new
    records. The draw (seed, share, which records got several reviewers) goes to the audit log.
    With ``user_id`` the caller must be a lead of the project.
    """
    check_stage(stage)
    if user_id is not None:
        project = require_project(session, project_id=project_id, user_id=user_id, roles=LEAD)
    else:
        project = session.get_one(Project, project_id)
    ta = stage == TITLE_ABSTRACT
    fraction = project.dual_fraction_ta if ta else project.dual_fraction_ft
    reviewers = project.reviewers_ta if ta else project.reviewers_ft
    if fraction is None:
        return {}
    column = Record.quota_ta if ta else Record.quota_ft
    decided = sa.select(Decision.id).where(Decision.record_id == Record.id,
                                           Decision.stage == stage).exists()
    ids = list(session.scalars(sa.select(Record.id).where(
        *in_stage(project, stage), column.is_(None), ~decided)))
    quotas = draw_quota(ids, fraction=fraction, reviewers=reviewers, seed=seed)
    by_quota: dict[int, list[int]] = defaultdict(list)
    for record_id, quota in quotas.items():
        by_quota[quota].append(record_id)
    for quota, record_ids in by_quota.items():
        for start in range(0, len(record_ids), CHUNK):
            chunk = record_ids[start:start + CHUNK]
            session.execute(sa.update(Record).where(Record.id.in_(chunk))
                            .values({column: quota})
                            .execution_options(synchronize_session=False))
    # Records already loaded in this session would keep their old quota otherwise.
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Record) and obj.id in quotas:
            session.expire(obj, [column.key])
    multi = sorted(by_quota.get(reviewers, [])) if reviewers > 1 else []
    log_event(session, action="screening.quota_draw", object_type="project",
              object_id=project_id, project_id=project_id, user_id=user_id,
              after={"stage": stage, "seed": seed, "fraction": fraction,
                     "reviewers": reviewers, "n_records": len(quotas),
                     "n_multi": len(multi), "multi_record_ids": multi})
    session.flush()
    return quotas
