"""The dedup service on both databases: runs, groups, decisions, undo, flags, counts."""

from __future__ import annotations

from collections import defaultdict

import pytest
import sqlalchemy as sa

from review.errors import ConflictError, PermissionDenied
from review.models import AuditEvent, Decision, DuplicateCandidate, Record
from review.services import dedup as service
from review.services.dedup_queue import dedup_counts
from tests.dedup.conftest import (
    first_groups,
    import_rows,
    labelled_rows,
    record,
    run_dedup_jobs,
)

TITLE = "Social impact bonds and the price of outcomes: evidence from eleven contracts"


def paper(session, project, **extra):
    """A well-described record; ``extra`` overrides fields."""
    fields = {"title": TITLE, "authors": ["Carter, Eleanor", "Ronicle, James"], "year": 2021,
              "journal": "Public Money & Management", "volume": "41", "issue": "3",
              "pages": "201-210", "doi": "10.1080/09540962.2021.1", "abstract": "We study SIBs."}
    fields.update(extra)
    return record(session, project, **fields)


def state(session, project_id):
    """Everything deduplication owns: pair statuses and deciders, and canonical ids."""
    session.expire_all()
    pairs = session.execute(sa.select(DuplicateCandidate.id, DuplicateCandidate.status,
                                      DuplicateCandidate.decided_by_id)
                            .where(DuplicateCandidate.project_id == project_id)
                            .order_by(DuplicateCandidate.id)).all()
    canon = session.execute(sa.select(Record.id, Record.canonical_id)
                            .where(Record.project_id == project_id).order_by(Record.id)).all()
    return list(pairs), list(canon)


def review_pair(session, project):
    """Two records the engine sends to review: same title and authors, nothing else."""
    title = "Commissioning for outcomes: lessons from the first social outcomes partnerships"
    a = record(session, project, title=title, authors=["Carter, Eleanor"])
    b = record(session, project, title=title, authors=["Carter, E."])
    return a, b


def test_duplicates_across_two_imports_merge_and_keep_both_sources(app, session, team):
    rows = first_groups(labelled_rows("asysd_diabetes"), 120)
    truth = {row["record_id"]: row["true_group"] for row in rows}
    first = import_rows(session, team, rows[0::2], "PubMed", "pubmed.csv")
    assert [j.status for j in run_dedup_jobs(app)] == ["done"]
    second = import_rows(session, team, rows[1::2], "Embase", "embase.csv")
    jobs = run_dedup_jobs(app)
    assert [j.status for j in jobs] == ["done"] and jobs[0].progress == 1.0
    session.expire_all()
    recs = session.execute(sa.select(Record.id, Record.source_record_id, Record.canonical_id,
                                     Record.batch_id)
                           .where(Record.project_id == team.project.id)).all()
    assert len(recs) == len(rows)  # nothing deleted
    groups = defaultdict(set)
    for rid, source_id, canonical, _batch in recs:
        groups[canonical or rid].add(source_id)
    assert all(len({truth[s] for s in members}) == 1 for members in groups.values())
    redundant = len(rows) - len(set(truth.values()))
    removed = sum(1 for r in recs if r.canonical_id is not None)
    assert removed >= 0.9 * redundant
    # Merged groups span both imports, and every record keeps its own batch.
    batches = {r.id: r.batch_id for r in recs}
    spanning = [g for g, members in groups.items()
                if len({batches[r.id] for r in recs if (r.canonical_id or r.id) == g}) == 2]
    assert spanning
    counts = dedup_counts(session, project_id=team.project.id)
    per_source = {s.name: s for s in counts.per_source}
    assert per_source["PubMed"].records == len(first)
    assert per_source["Embase"].records == len(second)
    assert counts.duplicates_removed == removed
    assert sum(s.duplicates_removed for s in counts.per_source) == removed
    # The second run compared only the new records (one per existing group for the rest).
    runs = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "dedup.run")
                           .order_by(AuditEvent.id)).all()
    assert runs[0].after["full"] is True and runs[1].after["full"] is False
    assert runs[1].after["new_records"] == len(second)


def test_incremental_run_compares_only_new_records(session, team):
    old_a = paper(session, team.project)
    old_b = paper(session, team.project)  # a duplicate pair among the old records
    new = paper(session, team.project, title=TITLE.upper(), abstract=None)
    other = paper(session, team.project, title="Payment by results in probation services",
                  doi="10.1/other", authors=["Fox, Chris"])
    session.commit()
    summary = service.dedup_new_records(session, project_id=team.project.id,
                                        new_record_ids=[new.id])
    session.commit()
    pairs = session.execute(sa.select(DuplicateCandidate.record_a_id,
                                      DuplicateCandidate.record_b_id)).all()
    assert pairs and all(new.id in pair for pair in pairs)
    assert summary.new_records == 1 and summary.compared == 4
    assert (old_a.id, old_b.id) not in pairs
    assert other.id not in {i for pair in pairs for i in pair}


def test_full_run_then_rerun_stores_no_second_row(session, team):
    a, b = paper(session, team.project), paper(session, team.project, abstract=None)
    p, q = review_pair(session, team.project)
    session.commit()
    first = service.dedup_new_records(session, project_id=team.project.id)
    session.commit()
    assert (first.auto_pairs, first.pending_pairs, first.merged) == (1, 1, 1)
    session.refresh(b)
    assert b.canonical_id == a.id  # the more complete record is kept
    again = service.dedup_new_records(session, project_id=team.project.id)
    session.commit()
    assert (again.auto_pairs, again.pending_pairs, again.merged) == (0, 0, 0)
    assert session.scalar(sa.select(sa.func.count()).select_from(DuplicateCandidate)) == 2
    assert {p.id, q.id} <= {r for pair in session.execute(sa.select(
        DuplicateCandidate.record_a_id, DuplicateCandidate.record_b_id)) for r in pair}


def test_confirm_reject_and_undo_restore_state_exactly(session, team):
    p, q = review_pair(session, team.project)
    session.commit()
    service.dedup_new_records(session, project_id=team.project.id)
    session.commit()
    cand = session.scalar(sa.select(DuplicateCandidate))
    assert cand.status == "pending"
    before = state(session, team.project.id)
    service.decide_pair(session, project_id=team.project.id, candidate_id=cand.id,
                        lead_id=team.lead.id, is_duplicate=True)
    session.commit()
    merged = state(session, team.project.id)
    assert merged[0][0].status == "confirmed"
    assert dict(merged[1]) == {p.id: None, q.id: p.id} != dict(before[1])
    with pytest.raises(ConflictError):
        service.decide_pair(session, project_id=team.project.id, candidate_id=cand.id,
                            lead_id=team.lead.id, is_duplicate=False)
    session.rollback()
    service.undo(session, project_id=team.project.id, candidate_id=cand.id, lead_id=team.lead.id)
    session.commit()
    assert state(session, team.project.id) == before
    service.decide_pair(session, project_id=team.project.id, candidate_id=cand.id,
                        lead_id=team.lead.id, is_duplicate=False)
    session.commit()
    rejected = state(session, team.project.id)
    assert rejected[0][0].status == "rejected" and rejected[1] == before[1]
    # Never proposed again, not even by a full rerun.
    service.dedup_new_records(session, project_id=team.project.id)
    session.commit()
    assert state(session, team.project.id) == rejected
    service.undo(session, project_id=team.project.id, candidate_id=cand.id, lead_id=team.lead.id)
    session.commit()
    assert state(session, team.project.id) == before
    actions = session.scalars(sa.select(AuditEvent.action).where(
        AuditEvent.object_type == "duplicate_candidate").order_by(AuditEvent.id)).all()
    assert actions == ["dedup.decide", "dedup.undo", "dedup.decide", "dedup.undo"]


def test_undo_of_an_automatic_merge_splits_and_requeues(session, team):
    a, b = paper(session, team.project), paper(session, team.project, abstract=None)
    session.commit()
    service.dedup_new_records(session, project_id=team.project.id)
    session.commit()
    cand = session.scalar(sa.select(DuplicateCandidate))
    assert cand.status == "auto"
    service.undo(session, project_id=team.project.id, candidate_id=cand.id, lead_id=team.lead.id)
    session.commit()
    session.refresh(a), session.refresh(b), session.refresh(cand)
    assert (a.canonical_id, b.canonical_id, cand.status) == (None, None, "pending")
    service.decide_pair(session, project_id=team.project.id, candidate_id=cand.id,
                        lead_id=team.lead.id, is_duplicate=False)
    session.commit()
    c = paper(session, team.project, pages="201-10")  # a third copy of the same paper
    session.commit()
    service.dedup_new_records(session, project_id=team.project.id, new_record_ids=[c.id])
    session.commit()
    for rec in (a, b, c):
        session.refresh(rec)
    # c may join one of them, never both: the lead kept a and b apart.
    assert {r.canonical_id or r.id for r in (a, b)} == {a.id, b.id}
    assert c.canonical_id in (None, a.id, b.id)


def test_a_screened_record_is_kept_over_a_more_complete_one(session, team):
    full = paper(session, team.project)
    sparse = paper(session, team.project, abstract=None, issue=None)
    session.add(Decision(project_id=team.project.id, record_id=sparse.id, stage="title_abstract",
                         reviewer_id=team.reviewer.id, slot=1, label="include"))
    session.commit()
    service.dedup_new_records(session, project_id=team.project.id)
    session.commit()
    session.refresh(full), session.refresh(sparse)
    assert (full.canonical_id, sparse.canonical_id) == (sparse.id, None)


def test_the_kept_record_moves_when_a_group_grows_with_a_more_complete_one(session, team):
    a = paper(session, team.project, abstract=None, issue=None)
    b = paper(session, team.project, abstract=None, issue=None, pages=None)
    session.commit()
    service.dedup_new_records(session, project_id=team.project.id)
    session.commit()
    session.refresh(b)
    assert b.canonical_id == a.id
    c = paper(session, team.project)
    session.commit()
    service.dedup_new_records(session, project_id=team.project.id, new_record_ids=[c.id])
    session.commit()
    for rec in (a, b, c):
        session.refresh(rec)
    assert (a.canonical_id, b.canonical_id, c.canonical_id) == (c.id, c.id, None)


def test_reviewers_flag_but_only_leads_decide(session, team):
    a = paper(session, team.project)
    b = paper(session, team.project, title="An unrelated report on outcomes funds",
              doi="10.1/b", authors=["Other, Person"])
    session.commit()
    cand = service.flag_duplicate(session, project_id=team.project.id, record_id=b.id,
                                  other_record_id=a.id, user_id=team.reviewer.id)
    session.commit()
    assert (cand.status, cand.flagged_by_id) == ("pending", team.reviewer.id)
    assert cand.reasons[0]["field"] == "flag"
    for user in (team.reviewer, team.viewer):
        with pytest.raises(PermissionDenied):
            service.decide_pair(session, project_id=team.project.id, candidate_id=cand.id,
                                lead_id=user.id, is_duplicate=True)
        session.rollback()
    with pytest.raises(PermissionDenied):
        service.flag_duplicate(session, project_id=team.project.id, record_id=b.id,
                               other_record_id=a.id, user_id=team.viewer.id)
    session.rollback()
    service.decide_pair(session, project_id=team.project.id, candidate_id=cand.id,
                        lead_id=team.lead.id, is_duplicate=True)
    session.commit()
    with pytest.raises(ConflictError, match="already merged"):
        service.flag_duplicate(session, project_id=team.project.id, record_id=a.id,
                               other_record_id=b.id, user_id=team.reviewer.id)


def test_bulk_accept_confirms_only_pairs_above_the_threshold(session, team):
    strong = review_pair(session, team.project)
    weak_a = record(session, team.project, title="Outcomes funds in practice: a review",
                    authors=["Gustafsson-Wright, E."], year=2019)
    weak_b = record(session, team.project, title="Outcomes funds in practice: a short review",
                    authors=["Gustafsson-Wright, E."], year=2019)
    session.commit()
    service.dedup_new_records(session, project_id=team.project.id)
    session.commit()
    cands = session.scalars(sa.select(DuplicateCandidate).order_by(
        DuplicateCandidate.score.desc())).all()
    assert [c.status for c in cands] == ["pending", "pending"]
    threshold = (cands[0].score + cands[1].score) / 2
    assert service.bulk_accept(session, project_id=team.project.id, lead_id=team.lead.id,
                               min_score=threshold) == 1
    session.commit()
    session.expire_all()
    assert [c.status for c in session.scalars(sa.select(DuplicateCandidate).order_by(
        DuplicateCandidate.score.desc()))] == ["confirmed", "pending"]
    kept = {r.canonical_id for r in session.scalars(sa.select(Record).where(
        Record.id.in_([strong[0].id, strong[1].id, weak_a.id, weak_b.id])))}
    assert kept == {None, strong[0].id}


def test_dedup_counts_per_source_without_batches(session, team):
    paper(session, team.project), paper(session, team.project, abstract=None)
    session.commit()
    service.dedup_new_records(session, project_id=team.project.id)
    session.commit()
    counts = dedup_counts(session, project_id=team.project.id)
    assert (counts.records, counts.duplicates_removed, counts.unique, counts.groups) == (2, 1, 1, 1)
    assert [(s.name, s.records) for s in counts.per_source] == [("(no source)", 2)]


def from_scratch(session, project_id):
    """Canonical ids derived from all merged pairs at once (the definition of the groups)."""
    from review.services.dedup_graph import load_dedup_records, merged_components
    from screening.dedup import choose_kept

    session.expire_all()
    groups = merged_components(session, project_id=project_id)
    records = load_dedup_records(session, project_id=project_id)
    want = dict.fromkeys(records)
    for members in groups.members.values():
        kept = int(choose_kept([records[m] for m in members]))
        want.update({m: kept for m in members if m != kept})
    return want


def test_groups_stay_exact_through_random_decisions_and_undos(session, team):
    import random

    rng = random.Random(7)
    for k in range(4):  # four works, three copies each, unevenly described
        for extra in ({}, {"abstract": None}, {"issue": None, "pages": None}):
            paper(session, team.project, title=f"{TITLE} part {k}", doi=f"10.1/part.{k}",
                  **extra)
    session.commit()
    service.dedup_new_records(session, project_id=team.project.id)
    session.commit()
    cands = session.scalars(sa.select(DuplicateCandidate.id)).all()
    assert len(cands) >= 8
    for _step in range(40):
        cid = rng.choice(cands)
        status = session.get(DuplicateCandidate, cid).status
        try:
            if status in ("pending", "auto") and rng.random() < 0.6:
                service.decide_pair(session, project_id=team.project.id, candidate_id=cid,
                                    lead_id=team.lead.id, is_duplicate=rng.random() < 0.5)
            elif status != "pending":
                service.undo(session, project_id=team.project.id, candidate_id=cid,
                             lead_id=team.lead.id)
            session.commit()
        except ConflictError:
            session.rollback()
        _pairs, canon = state(session, team.project.id)
        assert dict(canon) == from_scratch(session, team.project.id)


def test_a_new_copy_settles_a_pending_pair_and_an_undo_reopens_it(session, team):
    from review.services.dedup_queue import pending_queue

    title = "Glucagon-like peptide-1 reduces intestinal lipid absorption in healthy men"
    common = {"title": title, "authors": ["Xiao, C.", "Lewis, G. F."], "year": 2013,
              "journal": "Diabetes", "pages": "A163"}
    record(session, team.project, volume="1", **common)
    b = record(session, team.project, volume="62", issue="SUPPL. 1",
               doi="10.2337/db13-388-679", **common)
    session.commit()
    service.dedup_new_records(session, project_id=team.project.id)
    session.commit()
    (pair,) = session.scalars(sa.select(DuplicateCandidate)).all()
    assert pair.status == "pending"  # another volume: a human should look
    # A third copy agrees with both (its volume "1)" is garbage, its DOI is b's): one group.
    c = record(session, team.project, volume="1)", issue="Supplement_1",
               doi="http://dx.doi.org/10.2337/db13-388-679", **common)
    session.commit()
    summary = service.dedup_new_records(session, project_id=team.project.id,
                                        new_record_ids=[c.id])
    session.commit()
    heads = {r.canonical_id or r.id for r in session.scalars(sa.select(Record))}
    assert len(heads) == 1 and summary.pending_total == 0
    assert pending_queue(session, project_id=team.project.id, user_id=team.lead.id)[1] == 0
    with pytest.raises(ConflictError, match="one group through other pairs"):
        service.decide_pair(session, project_id=team.project.id, candidate_id=pair.id,
                            lead_id=team.lead.id, is_duplicate=False)
    session.rollback()
    to_b = session.scalar(sa.select(DuplicateCandidate).where(
        DuplicateCandidate.record_a_id == b.id, DuplicateCandidate.record_b_id == c.id))
    service.undo(session, project_id=team.project.id, candidate_id=to_b.id, lead_id=team.lead.id)
    session.commit()
    views, total = pending_queue(session, project_id=team.project.id, user_id=team.lead.id,
                                 limit=5)
    assert total == 2 and pair.id in {v.candidate.id for v in views}


def test_a_group_is_re_formed_from_the_pairs_that_remain(session, team):
    a, b, c = (paper(session, team.project, abstract=extra) for extra in ("A.", None, "A. B."))
    session.commit()
    service.dedup_new_records(session, project_id=team.project.id)
    session.commit()
    pairs = {(p.record_a_id, p.record_b_id): p for p in session.scalars(
        sa.select(DuplicateCandidate))}
    assert set(pairs) == {(a.id, b.id), (a.id, c.id), (b.id, c.id)}
    assert {p.status for p in pairs.values()} == {"auto"}
    # b and c stay joined through a: rejecting b-c alone would hide a rejection in a group.
    with pytest.raises(ConflictError, match="one group through other pairs"):
        service.decide_pair(session, project_id=team.project.id,
                            candidate_id=pairs[(b.id, c.id)].id, lead_id=team.lead.id,
                            is_duplicate=False)
    session.rollback()
    service.undo(session, project_id=team.project.id, candidate_id=pairs[(b.id, c.id)].id,
                 lead_id=team.lead.id)
    session.commit()
    assert len({r.canonical_id or r.id for r in session.scalars(sa.select(Record))}) == 1
    service.undo(session, project_id=team.project.id, candidate_id=pairs[(a.id, c.id)].id,
                 lead_id=team.lead.id)
    session.commit()
    session.expire_all()
    heads = {r.id: r.canonical_id or r.id for r in session.scalars(sa.select(Record))}
    assert heads[a.id] == heads[b.id] != heads[c.id]
    service.decide_pair(session, project_id=team.project.id,
                        candidate_id=pairs[(b.id, c.id)].id, lead_id=team.lead.id,
                        is_duplicate=False)
    session.commit()
    session.refresh(pairs[(b.id, c.id)])
    assert pairs[(b.id, c.id)].status == "rejected"


def test_a_new_record_is_not_merged_into_a_group_it_would_give_a_second_doi(session, team):
    a = paper(session, team.project)
    b = paper(session, team.project, doi=None, abstract=None)
    session.commit()
    service.dedup_new_records(session, project_id=team.project.id)
    session.commit()
    session.refresh(b)
    assert b.canonical_id == a.id
    # b has no DOI, so b and c alone look like one work; but b's group already holds a's DOI
    c = paper(session, team.project, doi="10.1080/09540962.2021.2")
    session.commit()
    service.dedup_new_records(session, project_id=team.project.id, new_record_ids=[c.id])
    session.commit()
    session.refresh(c)
    assert c.canonical_id is None
    notes = [r["note"] for p in session.scalars(sa.select(DuplicateCandidate).where(
        DuplicateCandidate.status == "pending")) for r in p.reasons if r["field"] == "guard"]
    assert "automatic merge refused: would put two different DOIs in one group" in notes
