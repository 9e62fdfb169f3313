"""The duplicates pages: queue (htmx fragment vs full page), decisions, undo, runs, flags."""

from __future__ import annotations

import sqlalchemy as sa

from review.models import DuplicateCandidate, Job, Record
from review.services import dedup as service
from tests.dedup.conftest import record

HX = {"HX-Request": "true"}


def pending_pairs(session, team, n=2):
    """``n`` pending pairs (same title and one author, nothing else), deduplicated."""
    pairs = []
    topics = ("youth employment in London boroughs", "homelessness among rough sleepers",
              "children on the edge of care")
    for k in range(n):
        title = f"Outcome payments for {topics[k]}: a study of commissioning"
        a = record(session, team.project, title=title, authors=["Ronicle, James"])
        b = record(session, team.project, title=title.replace("study", "trial"),
                   authors=["Ronicle, J."], doi=f"10.5555/sib.{k}")
        pairs.append((a, b))
    session.commit()
    service.dedup_new_records(session, project_id=team.project.id)
    session.commit()
    assert session.scalar(sa.select(sa.func.count()).select_from(DuplicateCandidate).where(
        DuplicateCandidate.status == "pending")) == n
    return pairs


def candidates(session):
    session.rollback()  # a fresh snapshot: the app wrote through its own connection
    return session.scalars(sa.select(DuplicateCandidate).order_by(
        DuplicateCandidate.score.desc(), DuplicateCandidate.id)).all()


def test_queue_is_a_fragment_for_htmx_and_a_page_otherwise(client, auth, session, team):
    pending_pairs(session, team, 1)
    auth.login(team.lead.email)
    url = f"/projects/{team.project.id}/dedup/"
    page = client.get(url)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in html and 'id="queue-panel"' in html
    assert "Pair 1 of 1" in html and "Run deduplication now" in html
    assert "Outcome payments for youth employment" in html
    assert '<mark class="diff">trial</mark>' in html  # the differing word is highlighted
    assert "near-identical title" in html  # the rule that fired, from the engine's reasons
    fragment = client.get(url, headers=HX)
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in body
    assert body.lstrip().startswith('<section id="queue-panel"')
    assert "HX-Request" in fragment.headers["Vary"]


def test_deciding_swaps_in_the_next_pair_or_redirects(client, auth, session, team):
    pending_pairs(session, team, 2)
    first, second = candidates(session)
    auth.login(team.lead.email)
    base = f"/projects/{team.project.id}/dedup"
    response = auth.post(f"{base}/pairs/{first.id}/decide", {"decision": "duplicate", "at": "0"},
                         headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body
    assert f'data-candidate="{second.id}"' in body and "Recently decided" in body
    response = auth.post(f"{base}/pairs/{second.id}/decide", {"decision": "distinct"})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"{base}/")
    assert [c.status for c in candidates(session)] == ["confirmed", "rejected"]
    assert "No pairs to review" in client.get(f"{base}/").get_data(as_text=True)
    # Deciding again is refused with the queue re-rendered (422), nothing changes.
    response = auth.post(f"{base}/pairs/{second.id}/decide", {"decision": "duplicate"},
                         headers=HX)
    assert response.status_code == 422 and "undo it first" in response.get_data(as_text=True)
    response = auth.post(f"{base}/pairs/{first.id}/undo", {"at": "0"}, headers=HX)
    assert response.status_code == 200
    assert [c.status for c in candidates(session)] == ["pending", "rejected"]
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(Record).where(
        Record.canonical_id.is_not(None))) == 0


def test_reviewers_cannot_decide_but_can_flag(client, auth, session, team):
    pending_pairs(session, team, 1)
    (cand,) = candidates(session)
    a = record(session, team.project, title="Impact bonds in Colombia", doi="10.7/COL.1")
    b = record(session, team.project, title="Colombia's workforce impact bond: a case study")
    session.commit()
    base = f"/projects/{team.project.id}/dedup"
    auth.login(team.reviewer.email)
    assert auth.post(f"{base}/pairs/{cand.id}/decide", {"decision": "duplicate"}
                     ).status_code == 403
    assert auth.post(f"{base}/bulk-accept", {"min_score": "0"}).status_code == 403
    form = client.get(f"{base}/flag?record_id={b.id}")
    assert form.status_code == 200 and "Colombia&#39;s workforce" in form.get_data(as_text=True)
    response = auth.post(f"{base}/flag", {"record_id": str(b.id), "q": "10.7/col.1",
                                          "next": f"/projects/{team.project.id}/"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/projects/{team.project.id}/")
    session.rollback()
    flagged = session.scalar(sa.select(DuplicateCandidate).where(
        DuplicateCandidate.record_a_id == a.id, DuplicateCandidate.record_b_id == b.id))
    assert (flagged.status, flagged.flagged_by_id) == ("pending", team.reviewer.id)
    again = auth.post(f"{base}/flag", {"record_id": str(b.id), "other_record_id": str(a.id)},
                      headers=HX)
    assert again.status_code == 200 and "Flagged" in again.get_data(as_text=True)
    nothing = auth.post(f"{base}/flag", {"record_id": str(b.id), "q": "no such title anywhere"})
    assert nothing.status_code == 422 and "no record matches" in nothing.get_data(as_text=True)
    auth.post("/logout")
    auth.login(team.viewer.email)
    assert auth.post(f"{base}/flag", {"record_id": str(b.id), "other_record_id": str(a.id)}
                     ).status_code == 403


def test_run_now_bulk_accept_and_groups_with_undo(client, auth, session, team):
    pending_pairs(session, team, 2)
    twin = dict(title="Outcomes-based contracting in Finland: a realist evaluation",
                authors=["Sinclair, S."], year=2020, journal="Policy & Politics", volume="48",
                pages="1-19", doi="10.1332/pp.2020.1")
    x = record(session, team.project, **twin)
    y = record(session, team.project, **twin)
    session.commit()
    base = f"/projects/{team.project.id}/dedup"
    auth.login(team.lead.email)
    response = auth.post(f"{base}/run")
    assert response.status_code == 303
    session.rollback()
    job = session.scalar(sa.select(Job).where(Job.kind == "dedup"))
    assert job.status == "done" and "merged" in job.message  # JOBS_INLINE in tests
    session.rollback()
    session.refresh(y)
    assert y.canonical_id == x.id
    response = auth.post(f"{base}/bulk-accept", {"min_score": "0"})
    assert response.status_code == 303
    assert {c.status for c in candidates(session)} == {"auto", "confirmed"}
    assert auth.post(f"{base}/bulk-accept", {"min_score": "lots"}).status_code == 422
    page = client.get(f"{base}/groups").get_data(as_text=True)
    assert "3 group(s)" in page and "automatic" in page and "confirmed by a lead" in page
    auto = next(c for c in candidates(session) if c.status == "auto")
    response = auth.post(f"{base}/pairs/{auto.id}/undo", {"next": f"{base}/groups"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/groups")
    session.rollback()
    session.refresh(y)
    assert y.canonical_id is None
    assert "2 group(s)" in client.get(f"{base}/groups").get_data(as_text=True)
