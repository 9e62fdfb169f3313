"""The screening services on SQLite and PostgreSQL: queue order, quotas, gating, rules, audit."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from review.errors import ConflictError, NotFound, PermissionDenied, ValidationError
from review.models import AuditEvent, Decision, Resolution
from review.services import screening as s
from tests.factories import make_project, make_records
from tests.screening_flow.conftest import reason_ids

TA, FT = "title_abstract", "full_text"


def decide(session, team, user, record, label="include", stage=TA, **kw):
    return s.record_decision(session, project_id=team.pid, record_id=record.id,
                             reviewer_id=user.id, stage=stage, label=label, **kw)


def nxt(session, team, user, stage=TA):
    return s.next_record(session, project_id=team.pid, reviewer_id=user.id, stage=stage)


def test_next_record_follows_rank_then_unranked_by_id(session, team):
    r = team.records
    r[3].rank, r[1].rank, r[5].rank = 1, 2, 3
    session.commit()
    order = []
    for _ in range(6):
        record = nxt(session, team, team.ada)
        order.append(record.id)
        decide(session, team, team.ada, record)
    assert order == [r[3].id, r[1].id, r[5].id, r[0].id, r[2].id, r[4].id]
    assert nxt(session, team, team.ada) is None


def test_queue_skips_duplicates_auto_excluded_and_records_with_their_quota(session, team):
    r = team.records
    r[0].canonical_id = r[1].id
    decide(session, team, team.ada, r[1])
    decide(session, team, team.ben, r[1])  # quota 2 reached
    decide(session, team, team.ada, r[2])  # one of two: still open for others
    session.commit()
    assert nxt(session, team, team.cat).id == r[2].id
    assert nxt(session, team, team.ada).id == r[3].id


def test_quota_is_never_exceeded_and_a_per_record_quota_wins(session, team):
    r = team.records
    decide(session, team, team.ada, r[0])
    decide(session, team, team.ben, r[0])
    with pytest.raises(ConflictError, match="all its decisions"):
        decide(session, team, team.cat, r[0])
    r[1].quota_ta = 1
    decide(session, team, team.ada, r[1])
    with pytest.raises(ConflictError):
        decide(session, team, team.ben, r[1])
    session.commit()
    slots = session.scalars(sa.select(Decision.slot).where(Decision.record_id == r[0].id))
    assert sorted(slots) == [1, 2]


def test_full_text_only_after_passing_title_abstract(session, team):
    r = team.records
    for rec, labels in ((r[0], ("include", "maybe")), (r[1], ("include", "exclude")),
                        (r[2], ("exclude", "exclude")), (r[3], ("include",))):
        for user, label in zip((team.ada, team.ben), labels, strict=False):
            decide(session, team, user, rec, label, reason_id=None)
    session.add(Resolution(project_id=team.pid, record_id=r[4].id, stage=TA,
                           lead_id=team.lead.id, label="include"))
    decide(session, team, team.ada, r[4], "exclude")
    decide(session, team, team.ben, r[4], "include")
    session.commit()
    queue = []
    ft_reason = reason_ids(session, team.pid)[0]
    while (record := nxt(session, team, team.cat, FT)) is not None:
        queue.append(record.id)
        decide(session, team, team.cat, record, "exclude", FT, reason_id=ft_reason)
    # agreed include/maybe, and a conflict a lead resolved as include; not the others
    assert queue == [r[0].id, r[4].id]
    with pytest.raises(ConflictError, match="not passed"):
        decide(session, team, team.ada, r[1], "include", FT)


def test_reason_rules(session, team):
    r = team.records
    reasons = reason_ids(session, team.pid)
    other = make_project(session)
    foreign = reason_ids(session, other.id)[0]
    decide(session, team, team.ada, r[0], "exclude")  # optional at title/abstract
    with pytest.raises(ValidationError) as exc:
        decide(session, team, team.ada, r[1], "exclude", reason_id=foreign)
    assert exc.value.field == "reason_id"
    team.project.reason_required_ta = True
    with pytest.raises(ValidationError, match="exclusion reason"):
        decide(session, team, team.ada, r[2], "exclude")
    d = decide(session, team, team.ada, r[2], "exclude", reason_id=reasons[1])
    assert d.reason_id == reasons[1]
    assert decide(session, team, team.ada, r[3], "include", reason_id=reasons[0]).reason_id is None
    with pytest.raises(ValidationError):
        decide(session, team, team.ada, r[4], "perhaps")


def test_full_text_requires_a_reason_to_exclude(session, team):
    rec = team.records[0]
    decide(session, team, team.ada, rec)
    decide(session, team, team.ben, rec)
    with pytest.raises(ValidationError, match="exclusion reason"):
        decide(session, team, team.ada, rec, "exclude", FT)
    decide(session, team, team.ada, rec, "exclude", FT, reason_id=reason_ids(session, team.pid)[0])


def test_record_of_another_project_and_roles(session, team):
    other = make_project(session)
    foreign = make_records(session, other, 1)[0]
    with pytest.raises(NotFound):
        decide(session, team, team.ada, foreign)
    with pytest.raises(PermissionDenied):
        decide(session, team, team.viewer, team.records[0])
    with pytest.raises(NotFound):
        s.next_record(session, project_id=other.id, reviewer_id=team.ada.id, stage=TA)


def test_second_decision_by_the_same_reviewer_is_a_revision_in_the_audit_log(session, team):
    rec = team.records[0]
    first = decide(session, team, team.ada, rec, "include", note="looks relevant")
    second = decide(session, team, team.ada, rec, "exclude", note="no outcome data")
    session.commit()
    assert first.id == second.id and second.slot == 1
    assert session.scalar(sa.select(sa.func.count()).select_from(Decision)) == 1
    revise = session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "decision.revise"))
    assert revise.before["label"] == "include" and revise.after["label"] == "exclude"
    assert revise.after["note"] == "no outcome data"


def test_undo_removes_my_latest_decision_until_a_lead_resolves(session, team):
    r = team.records
    decide(session, team, team.ada, r[0])
    decide(session, team, team.ada, r[1])
    decide(session, team, team.ben, r[0], "exclude")
    assert s.undo_last(session, project_id=team.pid, reviewer_id=team.ada.id, stage=TA) == r[1].id
    assert nxt(session, team, team.ada).id == r[1].id
    session.add(Resolution(project_id=team.pid, record_id=r[0].id, stage=TA,
                           lead_id=team.lead.id, label="exclude"))
    session.flush()
    with pytest.raises(ConflictError, match="resolved"):
        s.undo_last(session, project_id=team.pid, reviewer_id=team.ada.id, stage=TA)
    with pytest.raises(ConflictError, match="resolved"):
        decide(session, team, team.ben, r[0], "include")
    session.commit()
    undo = session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "decision.undo"))
    assert undo.before["record_id"] == r[1].id
    assert s.undo_last(session, project_id=team.pid, reviewer_id=team.cat.id, stage=TA) is None


def test_a_freed_slot_is_taken_again(session, team):
    rec = team.records[0]
    decide(session, team, team.ada, rec)
    decide(session, team, team.ben, rec)
    s.undo_last(session, project_id=team.pid, reviewer_id=team.ada.id, stage=TA)
    assert decide(session, team, team.cat, rec).slot == 1


def test_blinding_second_reviewer_sees_only_own_decisions(session, team):
    rec = team.records[0]
    decide(session, team, team.ada, rec, "exclude", note="ADA-SECRET-NOTE")
    session.commit()
    assert nxt(session, team, team.ben).id == rec.id
    mine = s.my_decisions(session, project_id=team.pid, reviewer_id=team.ben.id, stage=TA)
    assert mine.total == 0
    seen = s.visible_decisions(session, project_id=team.pid, record_id=rec.id,
                               user_id=team.ben.id, stage=TA)
    assert seen == []
    lead_sees = s.visible_decisions(session, project_id=team.pid, record_id=rec.id,
                                    user_id=team.lead.id, stage=TA)
    assert [d.note for d in lead_sees] == ["ADA-SECRET-NOTE"]
    decide(session, team, team.ben, rec, "include")
    both = s.visible_decisions(session, project_id=team.pid, record_id=rec.id,
                               user_id=team.ben.id, stage=TA)
    assert sorted(d.label for d in both) == ["exclude", "include"]  # complete: unblinded


def test_my_decisions_search_and_pages(session, team):
    recs = make_records(session, team.project, 30, title="Payment by results in prisons")
    for rec in recs:
        decide(session, team, team.ada, rec)
    decide(session, team, team.ada, team.records[0], note="check the outcome fund")
    decide(session, team, team.ben, team.records[1])
    page = s.my_decisions(session, project_id=team.pid, reviewer_id=team.ada.id, stage=TA)
    assert page.total == 31 and page.pages == 2 and len(page.items) == 25
    assert {i.decision.reviewer_id for i in page.items} == {team.ada.id}
    hit = s.my_decisions(session, project_id=team.pid, reviewer_id=team.ada.id, stage=TA,
                         query="OUTCOME fund")
    assert [i.record.id for i in hit.items] == [team.records[0].id]
    assert s.my_decisions(session, project_id=team.pid, reviewer_id=team.ada.id, stage=TA,
                          query="100%_").total == 0


def test_progress_counts(session, team):
    r = team.records
    decide(session, team, team.ada, r[0])
    decide(session, team, team.ben, r[0])
    decide(session, team, team.ada, r[1])
    p = s.progress(session, project_id=team.pid, reviewer_id=team.ada.id, stage=TA)
    assert (p.mine, p.complete, p.total, p.team_decisions, p.my_remaining) == (2, 1, 6, 3, 4)
    q = s.progress(session, project_id=team.pid, reviewer_id=team.cat.id, stage=TA)
    assert (q.mine, q.my_remaining) == (0, 5)


def test_apply_quota_draws_a_share_and_records_it(session, team):
    recs = make_records(session, team.project, 94)
    team.project.dual_fraction_ta = 0.2
    decide(session, team, team.ada, team.records[0])  # already decided: keeps the default
    quotas = s.apply_quota(session, project_id=team.pid, stage=TA, seed=7, user_id=team.lead.id)
    session.commit()
    assert len(quotas) == 99 and sum(1 for q in quotas.values() if q == 2) == 20
    assert team.records[0].id not in quotas
    again = s.apply_quota(session, project_id=team.pid, stage=TA, seed=8)
    assert again == {}  # nothing left to draw
    event = session.scalar(sa.select(AuditEvent).where(
        AuditEvent.action == "screening.quota_draw").order_by(AuditEvent.id))
    assert event.after["seed"] == 7 and len(event.after["multi_record_ids"]) == 20
    single = next(r for r in recs if quotas[r.id] == 1)
    decide(session, team, team.ada, single)
    with pytest.raises(ConflictError):
        decide(session, team, team.ben, single)
    with pytest.raises(PermissionDenied):
        s.apply_quota(session, project_id=team.pid, stage=TA, seed=1, user_id=team.ada.id)


def test_a_lost_race_for_a_slot_retries_the_next_one_in_a_savepoint(session, team, monkeypatch):
    rec = team.records[0]
    decide(session, team, team.ada, rec)
    session.commit()
    # Ben's view of the taken slots is stale (as when Ada commits just after Ben looked):
    # slot 1 fails on the unique constraint and the retry takes slot 2 in the same transaction.
    real, calls = session.scalars, []

    def stale_first(stmt, *args, **kwargs):
        calls.append(1)
        return iter(()) if len(calls) == 1 else real(stmt, *args, **kwargs)

    monkeypatch.setattr(session, "scalars", stale_first)
    d = decide(session, team, team.ben, rec)
    monkeypatch.undo()
    session.commit()
    assert d.slot == 2 and len(calls) == 2
    assert sorted(session.scalars(sa.select(Decision.slot).where(
        Decision.record_id == rec.id))) == [1, 2]


def test_claims_spread_a_team_over_records_and_expire(session, team):
    from review.models import ScreeningClaim

    r = team.records
    head = {u: s.claim_next(session, project=team.project, reviewer_id=u.id, stage=TA)
            for u in (team.ada, team.ben)}
    assert head[team.ada].id == head[team.ben].id == r[0].id  # quota 2: two readers
    third = s.claim_next(session, project=team.project, reviewer_id=team.cat.id, stage=TA)
    assert third.id == r[1].id  # r0 is being read by enough people
    assert nxt(session, team, team.ada).id == r[0].id  # a reader keeps the record they hold
    decide(session, team, team.ada, r[0])
    assert session.scalar(sa.select(sa.func.count()).select_from(ScreeningClaim).where(
        ScreeningClaim.reviewer_id == team.ada.id)) == 0  # deciding drops the claim
    for claim in session.scalars(sa.select(ScreeningClaim)):
        claim.expires_at = claim.expires_at.replace(year=2000)
    session.flush()
    assert s.queue_head(session, project=team.project, reviewer_id=team.cat.id,
                        stage=TA).id == r[0].id  # expired claims no longer count


def test_a_head_looked_up_earlier_is_taken_only_if_still_free(session, team):
    r = team.records
    # Cat looked the head up (r0) in a read; Ada and Ben claimed it before Cat's write
    for user in (team.ada, team.ben):
        s.claim_next(session, project=team.project, reviewer_id=user.id, stage=TA)
    looked_up = s.claim_next(session, project=team.project, reviewer_id=team.cat.id, stage=TA,
                             record_id=r[0].id, unless_claimed=True)
    assert looked_up.id == r[1].id
    # asked for by the reviewer (an undo shows the record again): held whoever reads it
    asked = s.claim_next(session, project=team.project, reviewer_id=team.cat.id, stage=TA,
                         record_id=r[0].id)
    assert asked.id == r[0].id


def test_when_every_open_record_is_claimed_the_queue_still_gives_one(session, team):
    r = team.records
    for rec in r[1:]:
        decide(session, team, team.ada, rec)
        decide(session, team, team.ben, rec)
    for user in (team.ada, team.ben):
        assert s.claim_next(session, project=team.project, reviewer_id=user.id,
                            stage=TA).id == r[0].id
    assert nxt(session, team, team.cat).id == r[0].id
