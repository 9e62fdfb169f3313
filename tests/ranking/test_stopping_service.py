"""Stopping on a rule: never-screened records auto-excluded, undo, evidence, audit."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from review.errors import ConflictError, PermissionDenied, ValidationError
from review.models import AuditEvent, Record, StopEvent
from review.services import stopping
from tests.ranking.helpers import decide, setup_project


def _screen(session, lead, reviewer, records):
    """Screen the first 10 records: one include, the rest excluded; 2 of them only once."""
    for i, rec in enumerate(records[:10]):
        label = "include" if i == 0 else "exclude"
        decide(session, rec, lead, label)
        if i < 8:
            decide(session, rec, reviewer, label, slot=2)


def test_report_orders_by_first_decision_and_estimates(session) -> None:
    project, lead, reviewer, records = setup_project(session)
    _screen(session, lead, reviewer, records)
    report = stopping.stopping_report(session, project_id=project.id)
    assert (report.n_total, report.n_screened, report.n_found) == (len(records), 10, 1)
    assert report.curve[0] == (0, 0) and report.curve[-1] == (10, 1)
    assert set(report.rules) == set(stopping.RULES)
    est = report.estimate
    assert est.estimated_recall is not None and est.recall_interval is not None
    low, high = est.recall_interval
    assert 0 < low <= est.estimated_recall <= high <= 1
    assert stopping.screened_in_order(session, project_id=project.id) == [1] + [0] * 9
    # what the chart shows: recall at least the interval's lower end, so includes at most
    assert report.recall_at_least == low
    assert report.includes_at_most == min(1 / low, 1 + len(records) - 10)


def test_early_on_the_chart_bounds_the_includes_by_the_records_left(session) -> None:
    # two includes in the first two records: the estimate would extrapolate their rate to
    # every record left; the chart says only what is safe
    project, lead, _, records = setup_project(session)
    for rec in records[:2]:
        decide(session, rec, lead, "include")
    report = stopping.stopping_report(session, project_id=project.id)
    assert report.recall_at_least is not None and 0 < report.recall_at_least < 0.5
    assert report.includes_at_most == len(records)  # 2 found + 12 not yet screened


def test_stop_marks_exactly_the_never_screened_records_and_undo_restores(session) -> None:
    project, lead, reviewer, records = setup_project(session)
    _screen(session, lead, reviewer, records)
    event = stopping.stop_screening(
        session, project_id=project.id, stage="title_abstract", lead_id=lead.id,
        rule="consecutive-irrelevant", params={"n_consecutive": "5"})
    marked = set(session.scalars(sa.select(Record.id).where(
        Record.auto_excluded_by_id == event.id)))
    assert marked == {r.id for r in records[10:]}  # screened-once records stay in the queue
    assert event.n_excluded == len(records) - 10
    assert event.params == {"n_consecutive": 5}
    assert event.evidence["current_run"] == 9 and event.evidence["should_stop"] is True
    assert stopping.excluded_automatic(session, project_id=project.id) == len(records) - 10
    assert stopping.stopping_report(session, project_id=project.id).active_stop is event
    with pytest.raises(ConflictError):
        stopping.stop_screening(session, project_id=project.id, stage="title_abstract",
                                lead_id=lead.id, rule="knee", params={}, force=True)
    stopping.undo_stop(session, project_id=project.id, stop_id=event.id, lead_id=lead.id)
    assert stopping.excluded_automatic(session, project_id=project.id) == 0
    assert session.get(StopEvent, event.id).undone_at is not None
    actions = list(session.scalars(sa.select(AuditEvent.action).where(
        AuditEvent.object_type == "stop_event").order_by(AuditEvent.id)))
    assert actions == ["screening.stop", "screening.stop_undo"]
    with pytest.raises(ConflictError):
        stopping.undo_stop(session, project_id=project.id, stop_id=event.id, lead_id=lead.id)


def test_a_rule_that_does_not_say_stop_refuses_unless_forced(session) -> None:
    project, lead, reviewer, records = setup_project(session)
    _screen(session, lead, reviewer, records)
    with pytest.raises(ConflictError, match="does not say stop"):
        stopping.stop_screening(session, project_id=project.id, stage="title_abstract",
                                lead_id=lead.id, rule="hypergeometric", params={})
    event = stopping.stop_screening(session, project_id=project.id, stage="title_abstract",
                                    lead_id=lead.id, rule="hypergeometric", params={},
                                    force=True)
    assert event.evidence["forced"] is True and event.evidence["should_stop"] is False
    assert "p_value" in event.evidence and event.n_excluded == len(records) - 10


def test_only_leads_stop_and_parameters_are_checked(session) -> None:
    project, lead, reviewer, records = setup_project(session)
    _screen(session, lead, reviewer, records)
    with pytest.raises(PermissionDenied):
        stopping.stop_screening(session, project_id=project.id, stage="title_abstract",
                                lead_id=reviewer.id, rule="knee", params={}, force=True)
    for rule, params in (("nope", {}), ("hypergeometric", {"recall_target": "2"}),
                         ("knee", {"n_consecutive": 3}), ("hypergeometric",
                                                          {"confidence": "abc"})):
        with pytest.raises(ValidationError):
            stopping.stop_screening(session, project_id=project.id, stage="title_abstract",
                                    lead_id=lead.id, rule=rule, params=params, force=True)
    with pytest.raises(ValidationError):
        stopping.stop_screening(session, project_id=project.id, stage="full_text",
                                lead_id=lead.id, rule="knee", params={}, force=True)
    assert stopping.excluded_automatic(session, project_id=project.id) == 0
