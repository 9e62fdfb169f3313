"""When may a team stop screening? Evaluate the rules on the project, stop on one, undo it.

The rules are the pure functions of screening.stopping; this module feeds them the project's
screening so far (records in the order they were first screened, with the training label rule
of review.services.ranking) and, when a lead stops, marks the never-screened records as excluded
by an automation tool with the rule, its parameters and evidence kept in a StopEvent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session

from review.db import utcnow
from review.errors import ConflictError, NotFound, ValidationError
from review.models import Decision, Record, StopEvent
from review.services.audit import log_event
from review.services.projects import LEAD, require_project
from review.services.ranking import STAGE, project_labels
from screening.stopping import (
    StopDecision,
    consecutive_irrelevant_stop,
    hypergeometric_stop,
    knee_stop,
)

RULES = ("hypergeometric", "consecutive-irrelevant", "knee")
#: Parameter name -> (type, low, high) accepted per rule; bounds are inclusive except 0/1 rates.
_PARAMS: dict[str, dict[str, tuple[type, float, float]]] = {
    "hypergeometric": {"recall_target": (float, 0.5, 0.999), "confidence": (float, 0.5, 0.999)},
    "consecutive-irrelevant": {"n_consecutive": (int, 1, 10**7)},
    "knee": {"target_ratio": (float, 1.0, 10**4), "min_screened": (int, 0, 10**7)},
}
_CURVE_POINTS = 400
_RULE_FUNCTIONS: dict[str, Callable[..., StopDecision]] = {
    "hypergeometric": hypergeometric_stop,
    "consecutive-irrelevant": consecutive_irrelevant_stop,
    "knee": knee_stop,
}


@dataclass(frozen=True)
class StoppingReport:
    """The rules' verdicts on a project's screening so far, and the data of its chart."""

    n_total: int  # unique (canonical) records
    n_screened: int  # records with at least one decision at the stage
    n_found: int  # of those, included (training-label rule: include/maybe or resolved include)
    n_auto_excluded: int  # records excluded by an active stop
    rules: dict[str, StopDecision]
    curve: list[tuple[int, int]]  # (records screened, includes found), at most ~400 points
    active_stop: StopEvent | None
    events: list[StopEvent]

    @property
    def estimate(self) -> StopDecision:
        """The statistical rule, which carries the recall estimate."""
        return self.rules["hypergeometric"]

    @property
    def recall_at_least(self) -> float | None:
        """The recall the screening has reached at least, at the estimate's confidence.

        The estimate takes the rate of includes among the records left from recent screening,
        but those records came first in the ranking: they are richer in includes than the ones
        left, so the rate overstates the includes left (early on, by far) and the point
        estimate and the upper end understate recall. The lower end stays a safe bound; the
        chart shows it alone. None before the first include.
        """
        interval = self.estimate.recall_interval
        return interval[0] if interval and interval[0] else None

    @property
    def includes_at_most(self) -> float | None:
        """Includes in the whole set at most (same bound), or None before the first include."""
        low = self.recall_at_least
        if low is None:
            return None
        return min(self.n_found / low, self.n_found + self.n_total - self.n_screened)


def screened_in_order(session: Session, *, project_id: int, stage: str = STAGE) -> list[int]:
    """0/1 labels of the screened unique records, in the order they were first screened."""
    first = (sa.select(Decision.record_id, sa.func.min(Decision.id).label("first"))
             .join(Record, Record.id == Decision.record_id)
             .where(Decision.project_id == project_id, Decision.stage == stage,
                    Record.canonical_id.is_(None))
             .group_by(Decision.record_id).subquery())
    order = session.scalars(sa.select(first.c.record_id).order_by(first.c.first)).all()
    labels = project_labels(session, project_id=project_id, stage=stage)
    return [labels.get(rid, 0) for rid in order]


def _count_unique(session: Session, project_id: int) -> int:
    return int(session.scalar(sa.select(sa.func.count()).select_from(Record).where(
        Record.project_id == project_id, Record.canonical_id.is_(None))) or 0)


def rule_params(rule: str, params: dict[str, Any] | None) -> dict[str, Any]:
    """Check a rule's name and parameters (strings from forms are converted).

    Raises:
        ValidationError: naming the unknown rule or the bad parameter.
    """
    if rule not in _PARAMS:
        raise ValidationError(f"unknown rule {rule!r}; rules: {', '.join(RULES)}", field="rule")
    out: dict[str, Any] = {}
    for name, raw in (params or {}).items():
        if raw is None or raw == "":
            continue
        if name not in _PARAMS[rule]:
            raise ValidationError(f"{rule} takes no parameter {name!r}", field=name)
        kind, low, high = _PARAMS[rule][name]
        try:
            value = kind(raw)
        except (TypeError, ValueError):
            raise ValidationError(f"{name} must be a number", field=name) from None
        if not low <= value <= high:
            raise ValidationError(f"{name} must be between {low:g} and {high:g}", field=name)
        out[name] = value
    return out


def evaluate_rule(
    labels_in_order: list[int], n_total: int, rule: str, params: dict[str, Any] | None = None
) -> StopDecision:
    """Run one rule on labels in screening order (see screening.stopping)."""
    checked = rule_params(rule, params)
    y = np.asarray(labels_in_order, dtype=np.int64)
    return _RULE_FUNCTIONS[rule](y, n_total, **checked)


def stopping_report(
    session: Session, *, project_id: int, stage: str = STAGE, recall_target: float = 0.95,
    confidence: float = 0.95,
) -> StoppingReport:
    """Evaluate every rule on the screening so far, with the chart's curve.

    Args:
        session: database session.
        project_id: the project.
        stage: the screening stage (title/abstract).
        recall_target: the statistical rule's recall target.
        confidence: the statistical rule's confidence.
    """
    y = screened_in_order(session, project_id=project_id, stage=stage)
    n_total = max(_count_unique(session, project_id), len(y))
    rules = {
        "hypergeometric": evaluate_rule(y, n_total, "hypergeometric",
                                        {"recall_target": recall_target,
                                         "confidence": confidence}),
        "consecutive-irrelevant": evaluate_rule(y, n_total, "consecutive-irrelevant"),
        "knee": evaluate_rule(y, n_total, "knee"),
    }
    found = np.concatenate([[0], np.cumsum(np.asarray(y, dtype=np.int64))])
    idx = np.unique(np.linspace(0, len(y), min(len(y) + 1, _CURVE_POINTS)).astype(int))
    events = list(session.scalars(sa.select(StopEvent).where(
        StopEvent.project_id == project_id, StopEvent.stage == stage)
        .order_by(StopEvent.id.desc())))
    active = next((e for e in events if e.undone_at is None), None)
    return StoppingReport(
        n_total=n_total, n_screened=len(y), n_found=int(found[-1]),
        n_auto_excluded=excluded_automatic(session, project_id=project_id),
        rules=rules, curve=[(int(i), int(found[i])) for i in idx],
        active_stop=active, events=events,
    )


def stop_screening(
    session: Session, *, project_id: int, stage: str, lead_id: int, rule: str,
    params: dict[str, Any] | None = None, force: bool = False,
) -> StopEvent:
    """Stop screening on a rule: every never-screened record is excluded by automation.

    Records with at least one decision keep their place in the queue (they still get their
    second screen). The rule is evaluated now and its evidence stored; unless ``force``, a rule
    that does not say stop refuses.

    Args:
        session: database session (flushed, not committed).
        project_id: the project.
        stage: "title_abstract".
        lead_id: the lead stopping (must be a lead of the project).
        rule: one of RULES.
        params: the rule's parameters (defaults otherwise).
        force: stop even though the rule does not say so (kept in the evidence).

    Returns:
        The StopEvent, with ``n_excluded`` records marked.

    Raises:
        NotFound / PermissionDenied: not a lead of the project.
        ValidationError: bad stage, rule or parameter.
        ConflictError: screening is already stopped, or the rule does not say stop.
    """
    require_project(session, project_id=project_id, user_id=lead_id, roles=LEAD)
    if stage != STAGE:
        raise ValidationError("only title/abstract screening can be stopped on a rule",
                              field="stage")
    checked = rule_params(rule, params)
    if _active_stop(session, project_id, stage) is not None:
        raise ConflictError("screening is already stopped; undo that stop first")
    y = screened_in_order(session, project_id=project_id, stage=stage)
    decision = evaluate_rule(y, max(_count_unique(session, project_id), len(y)), rule, checked)
    if not decision.should_stop and not force:
        raise ConflictError(f"the {rule} rule does not say stop yet ({_why(decision)})")
    evidence = {**decision.evidence, "should_stop": decision.should_stop, "forced": force,
                "estimated_recall": decision.estimated_recall,
                "recall_interval": list(decision.recall_interval or []) or None}
    event = StopEvent(project_id=project_id, stage=stage, rule=rule, params=decision.params,
                      evidence=_plain(evidence), user_id=lead_id)
    session.add(event)
    session.flush()
    screened = sa.select(Decision.record_id).where(
        Decision.stage == stage, Decision.record_id == Record.id).exists()
    result = session.execute(
        sa.update(Record).where(Record.project_id == project_id, Record.canonical_id.is_(None),
                                Record.auto_excluded_by_id.is_(None), ~screened)
        .values(auto_excluded_by_id=event.id).execution_options(synchronize_session=False))
    event.n_excluded = int(result.rowcount or 0)  # type: ignore[attr-defined]
    log_event(session, action="screening.stop", object_type="stop_event", object_id=event.id,
              project_id=project_id, user_id=lead_id,
              after={"rule": rule, "params": event.params, "n_excluded": event.n_excluded,
                     "evidence": event.evidence})
    session.flush()
    return event


def _why(decision: StopDecision) -> str:
    ev = decision.evidence
    if "p_value" in ev:
        return f"p = {ev['p_value']:.3g}, needs < {1 - decision.params['confidence']:.3g}"
    if "current_run" in ev:
        return f"{ev['current_run']} irrelevant in a row of {decision.params['n_consecutive']}"
    if "slope_ratio" in ev:
        return f"slope ratio {ev['slope_ratio']:.1f}"
    return str(ev.get("reason", "not enough screened"))


def _plain(value: Any) -> Any:
    # numpy numbers would not survive the JSON column
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _active_stop(session: Session, project_id: int, stage: str) -> StopEvent | None:
    return session.scalar(sa.select(StopEvent).where(
        StopEvent.project_id == project_id, StopEvent.stage == stage,
        StopEvent.undone_at.is_(None)))


def undo_stop(session: Session, *, project_id: int, stop_id: int, lead_id: int) -> StopEvent:
    """Undo a stop: its records go back into the screening queue.

    Raises:
        NotFound: no such stop in this project (or not a member).
        ConflictError: it was undone already.
    """
    require_project(session, project_id=project_id, user_id=lead_id, roles=LEAD)
    event = session.get(StopEvent, stop_id)
    if event is None or event.project_id != project_id:
        raise NotFound(f"no stop {stop_id} in this project")
    if event.undone_at is not None:
        raise ConflictError("this stop was undone already")
    result = session.execute(sa.update(Record).where(Record.auto_excluded_by_id == event.id)
                             .values(auto_excluded_by_id=None)
                             .execution_options(synchronize_session=False))
    event.undone_at = utcnow()
    log_event(session, action="screening.stop_undo", object_type="stop_event",
              object_id=event.id, project_id=project_id, user_id=lead_id,
              before={"n_excluded": event.n_excluded},
              after={"n_restored": int(result.rowcount or 0)})  # type: ignore[attr-defined]
    session.flush()
    return event


def excluded_automatic(session: Session, *, project_id: int) -> int:
    """Records excluded by an automation tool (PRISMA 2020's ``excluded_automatic``)."""
    return int(session.scalar(sa.select(sa.func.count()).select_from(Record).where(
        Record.project_id == project_id, Record.auto_excluded_by_id.is_not(None))) or 0)
