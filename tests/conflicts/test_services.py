"""Conflict queue, resolutions, the dashboard counts and agreement, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io

import pytest
import sqlalchemy as sa

from review.errors import ConflictError, NotFound, PermissionDenied, ValidationError
from review.models import AuditEvent, Resolution
from review.services import agreement as agreement_service
from review.services import conflicts as service
from review.services.dashboard import project_counts
from tests.conflicts.conftest import decide
from tests.factories import make_project, make_records, make_user

TA, FT = "title_abstract", "full_text"


def _screen(session, team, pairs):
    """Alice and Bob decide records 0..n-1 with the given (alice, bob) labels."""
    for record, (a, b) in zip(team.records, pairs, strict=False):
        if a:
            decide(session, record, team.alice, a)
        if b:
            decide(session, record, team.bob, b)
    session.commit()


def test_queue_lists_exactly_the_unresolved_conflicts(session, team) -> None:
    _screen(session, team, [("include", "exclude"), ("maybe", "exclude"), ("maybe", "include"),
                            ("exclude", "exclude"), ("include", None), ("exclude", "include")])
    queue = service.conflict_queue(session, project_id=team.project.id, user_id=team.lead.id,
                                   stage=TA)
    ids = {item.record.id for item in queue}
    expected = {team.records[i].id for i in (0, 1, 5)}
    assert ids == expected
    first = next(item for item in queue if item.record.id == team.records[0].id)
    assert sorted((d.reviewer, d.label) for d in first.decisions) == [("Alice", "include"),
                                                                      ("Bob", "exclude")]
    assert service.conflict_queue(session, project_id=team.project.id, user_id=team.lead.id,
                                  stage=FT) == []


def test_queue_page_keeps_the_best_ranked(session, team) -> None:
    _screen(session, team, [("include", "exclude")] * 3)
    for rank, record in zip((3, 1, 2), team.records[:3], strict=True):
        record.rank = rank
    session.commit()
    queue = service.conflict_queue(session, project_id=team.project.id, user_id=team.lead.id,
                                   stage=TA, limit=2)
    assert [item.record.id for item in queue] == [team.records[1].id, team.records[2].id]


def test_only_leads_reach_the_queue_and_resolve(session, team) -> None:
    _screen(session, team, [("include", "exclude")])
    for user in (team.alice, team.viewer):
        with pytest.raises(PermissionDenied):
            service.conflict_queue(session, project_id=team.project.id, user_id=user.id,
                                   stage=TA)
        with pytest.raises(PermissionDenied):
            service.resolve(session, project_id=team.project.id, record_id=team.records[0].id,
                            stage=TA, lead_id=user.id, label="include")
    stranger = make_user(session)
    with pytest.raises(NotFound):
        service.conflict_queue(session, project_id=team.project.id, user_id=stranger.id,
                               stage=TA)


def test_resolve_and_unresolve_are_audited_and_move_the_counts(session, team) -> None:
    _screen(session, team, [("include", "exclude"), ("include", "include"),
                            ("exclude", "exclude")])
    pid, rid = team.project.id, team.records[0].id
    before = project_counts(session, project_id=pid)
    assert (before.screened, before.conflicts, before.included) == (3, 1, 1)

    resolution = service.resolve(session, project_id=pid, record_id=rid, stage=TA,
                                 lead_id=team.lead.id, label="include", note="  fits PbR  ")
    session.commit()
    assert resolution.note == "fits PbR" and resolution.lead_id == team.lead.id
    after = project_counts(session, project_id=pid)
    assert (after.screened, after.conflicts, after.included) == (3, 0, 2)
    assert service.conflict_queue(session, project_id=pid, user_id=team.lead.id, stage=TA) == []
    resolved = service.resolved_conflicts(session, project_id=pid, user_id=team.lead.id,
                                          stage=TA)
    assert [item.record.id for item in resolved] == [rid]
    assert resolved[0].lead == "Lena Lead"

    service.unresolve(session, project_id=pid, record_id=rid, stage=TA, lead_id=team.lead.id)
    session.commit()
    assert project_counts(session, project_id=pid) == before
    actions = list(session.scalars(sa.select(AuditEvent.action).where(
        AuditEvent.object_type == "record", AuditEvent.object_id == rid)
        .order_by(AuditEvent.id)))
    assert actions == ["conflict.resolve", "conflict.unresolve"]
    event = session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "conflict.unresolve"))
    assert event.before["label"] == "include" and event.user_id == team.lead.id


def test_resolving_as_exclude_removes_the_record_from_included(session, team) -> None:
    _screen(session, team, [("maybe", "exclude")])
    pid = team.project.id
    service.resolve(session, project_id=pid, record_id=team.records[0].id, stage=TA,
                    lead_id=team.lead.id, label="exclude", reason_id=team.reasons[1].id)
    session.commit()
    counts = project_counts(session, project_id=pid)
    assert (counts.conflicts, counts.included) == (0, 0)
    assert service.included_record_ids(session, project_id=pid, stage=TA) == []


def test_resolve_refuses_what_is_not_an_open_conflict(session, team) -> None:
    _screen(session, team, [("include", "exclude"), ("include", "include"), ("include", None)])
    pid, lead = team.project.id, team.lead.id
    for record in team.records[1:3]:
        with pytest.raises(ConflictError):
            service.resolve(session, project_id=pid, record_id=record.id, stage=TA,
                            lead_id=lead, label="include")
    service.resolve(session, project_id=pid, record_id=team.records[0].id, stage=TA,
                    lead_id=lead, label="include")
    with pytest.raises(ConflictError):
        service.resolve(session, project_id=pid, record_id=team.records[0].id, stage=TA,
                        lead_id=lead, label="exclude")
    with pytest.raises(NotFound):
        service.unresolve(session, project_id=pid, record_id=team.records[1].id, stage=TA,
                          lead_id=lead)


def test_resolve_validates_label_reason_and_record(session, team) -> None:
    _screen(session, team, [("include", "exclude")])
    pid, lead, rid = team.project.id, team.lead.id, team.records[0].id
    with pytest.raises(ValidationError) as info:
        service.resolve(session, project_id=pid, record_id=rid, stage=TA, lead_id=lead,
                        label="maybe")
    assert info.value.field == "label"
    other = make_project(session, lead=team.lead)
    foreign_reason = other.reasons[0] if other.reasons else None
    session.flush()
    with pytest.raises(ValidationError):
        service.resolve(session, project_id=pid, record_id=rid, stage=TA, lead_id=lead,
                        label="exclude", reason_id=foreign_reason.id)
    foreign_record = make_records(session, other, 1)[0]
    with pytest.raises(NotFound):
        service.resolve(session, project_id=pid, record_id=foreign_record.id, stage=TA,
                        lead_id=lead, label="include")


def test_full_text_reason_conflicts_follow_the_project_setting(session, team) -> None:
    record = team.records[0]
    r1, r2 = team.reasons[0].id, team.reasons[1].id
    decide(session, record, team.alice, "exclude", stage=FT, reason_id=r1)
    decide(session, record, team.bob, "exclude", stage=FT, reason_id=r2)
    session.commit()
    pid, lead = team.project.id, team.lead.id
    assert service.conflict_queue(session, project_id=pid, user_id=lead, stage=FT) == []
    team.project.conflict_on_reason_ft = True
    session.commit()
    queue = service.conflict_queue(session, project_id=pid, user_id=lead, stage=FT)
    assert [item.record.id for item in queue] == [record.id]
    assert {d.reason for d in queue[0].decisions} == {team.reasons[0].label,
                                                      team.reasons[1].label}
    with pytest.raises(ValidationError):  # exclusion at full text needs a reason
        service.resolve(session, project_id=pid, record_id=record.id, stage=FT, lead_id=lead,
                        label="exclude")
    service.resolve(session, project_id=pid, record_id=record.id, stage=FT, lead_id=lead,
                    label="exclude", reason_id=r2)
    assert service.conflict_counts(session, project_id=pid) == {TA: 0, FT: 0}


def test_quota_of_three_waits_for_the_third_reviewer(session, team) -> None:
    record = team.records[0]
    record.quota_ta = 3
    decide(session, record, team.alice, "include")
    decide(session, record, team.bob, "exclude")
    session.commit()
    pid = team.project.id
    assert project_counts(session, project_id=pid).conflicts == 0
    decide(session, record, team.lead, "include")
    session.commit()
    assert project_counts(session, project_id=pid).conflicts == 1


def test_duplicates_do_not_count(session, team) -> None:
    _screen(session, team, [("include", "exclude"), ("include", "include")])
    team.records[0].canonical_id = team.records[1].id
    session.commit()
    counts = project_counts(session, project_id=team.project.id)
    assert (counts.duplicates, counts.screened, counts.conflicts, counts.included) == (1, 1, 0, 1)


def test_reviewer_sees_outcomes_of_own_resolved_conflicts_only(session, team) -> None:
    carol = make_user(session, name="Carol")
    from tests.factories import add_member
    add_member(session, team.project, carol, "reviewer")
    _screen(session, team, [("include", "exclude"), ("exclude", "include")])
    decide(session, team.records[2], carol, "include")
    decide(session, team.records[2], team.bob, "exclude")
    session.commit()
    pid = team.project.id
    for record, label in ((team.records[0], "exclude"), (team.records[2], "include")):
        service.resolve(session, project_id=pid, record_id=record.id, stage=TA,
                        lead_id=team.lead.id, label=label, note="see criterion 2")
    session.commit()
    mine = service.my_resolved(session, project_id=pid, user_id=team.alice.id)
    assert [(m.record.id, m.my_label, m.final_label, m.agreed) for m in mine] == [
        (team.records[0].id, "include", "exclude", False)]
    assert mine[0].note == "see criterion 2" and mine[0].lead == "Lena Lead"
    # Record 1 is in conflict but unresolved: nothing shown to anyone about it yet.
    bobs = service.my_resolved(session, project_id=pid, user_id=team.bob.id)
    assert {m.record.id for m in bobs} == {team.records[0].id, team.records[2].id}
    assert all(not hasattr(m, "decisions") for m in bobs)
    with pytest.raises(PermissionDenied):
        service.my_resolved(session, project_id=pid, user_id=team.viewer.id)


def test_agreement_per_pair_and_csv(session, team) -> None:
    _screen(session, team, [("include", "include"), ("include", "exclude"),
                            ("exclude", "exclude"), ("exclude", "exclude"), ("maybe", "include"),
                            ("exclude", None)])
    pid = team.project.id
    result = agreement_service.stage_agreement(session, project_id=pid, user_id=team.lead.id,
                                               stage=TA)
    assert len(result.pairs) == 1 and result.overall is None
    pair = result.pairs[0].agreement
    assert pair.n == 5  # the record only Alice decided is left out
    assert pair.table == ((2, 1), (0, 2))
    assert pair.percent.value == pytest.approx(0.8)
    labels = agreement_service.stage_agreement(session, project_id=pid, user_id=team.lead.id,
                                               stage=TA, scale="labels")
    assert labels.pairs[0].agreement.table[2] == (1, 0, 0)  # Alice's maybe vs Bob's include
    text = agreement_service.agreement_csv(session, project_id=pid, user_id=team.viewer.id)
    rows = list(csv.DictReader(io.StringIO(text)))
    ta_binary = [r for r in rows if r["stage"] == TA and r["scale"] == "binary"]
    assert len(ta_binary) == 1
    assert ta_binary[0]["n"] == "5" and ta_binary[0]["a_include_b_exclude"] == "1"
    assert float(ta_binary[0]["percent_agreement"]) == pytest.approx(0.8)
    with pytest.raises(ValidationError):
        agreement_service.stage_agreement(session, project_id=pid, user_id=team.lead.id,
                                          stage="abstract")


def test_agreement_for_non_leads_only_over_complete_records(session, team) -> None:
    record = team.records[0]
    record.quota_ta = 3
    carol = make_user(session, name="Carol")
    from tests.factories import add_member
    add_member(session, team.project, carol, "reviewer")
    decide(session, record, team.alice, "include")
    decide(session, record, team.bob, "exclude")
    session.commit()
    pid = team.project.id
    lead_view = agreement_service.stage_agreement(session, project_id=pid, user_id=team.lead.id,
                                                  stage=TA)
    assert lead_view.pairs[0].agreement.n == 1
    carol_view = agreement_service.stage_agreement(session, project_id=pid, user_id=carol.id,
                                                   stage=TA)
    assert carol_view.pairs == []
    decide(session, record, carol, "include")
    session.commit()
    carol_view = agreement_service.stage_agreement(session, project_id=pid, user_id=carol.id,
                                                   stage=TA)
    assert len(carol_view.pairs) == 3 and carol_view.overall is not None
    assert carol_view.overall.n_raters == 3


def test_concurrent_resolutions_one_wins(session, team, app) -> None:
    _screen(session, team, [("include", "exclude")])
    factory = app.extensions["sieve_sessionmaker"]
    pid, rid = team.project.id, team.records[0].id
    s1 = factory()
    service.resolve(s1, project_id=pid, record_id=rid, stage=TA, lead_id=team.lead.id,
                    label="include")
    s1.commit()
    s1.close()
    s2 = factory()
    with pytest.raises(ConflictError):
        service.resolve(s2, project_id=pid, record_id=rid, stage=TA, lead_id=team.lead.id,
                        label="exclude")
    s2.close()
    assert session.scalar(sa.select(sa.func.count()).select_from(Resolution)) == 1


def test_csv_neutralises_formula_like_names(session, team) -> None:
    team.alice.name = "=HYPERLINK(\"http://x\")"
    _screen(session, team, [("include", "include")])
    text = agreement_service.agreement_csv(session, project_id=team.project.id,
                                           user_id=team.lead.id)
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["reviewer_a"].startswith("'=") or row["reviewer_b"].startswith("'=")


def test_database_tally_agrees_with_the_pure_rule(session, team) -> None:
    """Random decisions (labels, reasons, missing reasons, quotas 1-3, resolutions) at full
    text: the outcomes computed from the database tally equal the pure rule over the votes."""
    import random

    from screening.conflicts import Vote, outcome
    from tests.factories import add_member

    rng = random.Random(20261128)
    carol = make_user(session, name="Carol")
    add_member(session, team.project, carol, "reviewer")
    team.project.conflict_on_reason_ft = True
    records = make_records(session, team.project, 40)
    reasons = [None, team.reasons[0].id, team.reasons[1].id]
    expected_votes: dict[int, list[Vote]] = {}
    for record in records:
        record.quota_ft = rng.choice([1, 2, 3])
        voters = rng.sample([team.alice, team.bob, carol], rng.randint(0, 3))
        for reviewer in voters:
            label = rng.choice(["include", "exclude", "maybe", "exclude"])
            reason = rng.choice(reasons) if label == "exclude" else None
            decide(session, record, reviewer, label, stage=FT, reason_id=reason)
            expected_votes.setdefault(record.id, []).append(Vote(label, reason))
    session.commit()
    outcomes = service.stage_outcomes(session, project_id=team.project.id, stage=FT)
    assert set(outcomes) == set(expected_votes)
    for record in records:
        if record.id in expected_votes:
            assert outcomes[record.id] == outcome(
                expected_votes[record.id], quota=record.quota_ft, stage=FT,
                conflict_on_reason_ft=True), record.id
    statuses = {o.status for o in outcomes.values()}
    assert {"pending", "agreed", "conflict"} <= statuses  # the draw exercised each branch
