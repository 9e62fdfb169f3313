"""The screening pages through the Flask test client: htmx and plain forms, errors, blinding."""

from __future__ import annotations

import re

import sqlalchemy as sa

from review.models import Decision
from tests.factories import make_records
from tests.screening_flow.conftest import reason_ids

HX = {"HX-Request": "true"}


def url(team, path=""):
    return f"/projects/{team.pid}/screening/{path}"


def shown_record(html: str) -> int | None:
    match = re.search(r'data-record="(\d+)"', html)
    return int(match.group(1)) if match else None


def test_full_page_without_htmx_fragment_with_it(client, auth, team):
    auth.login(team.ada.email)
    page = client.get(url(team))
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in html and "HX-Request" in page.headers["Vary"]
    assert shown_record(html) == team.records[0].id
    assert "Criteria" in html and 'id="progress"' in html
    fragment = client.get(url(team), headers=HX).get_data(as_text=True)
    assert "<html" not in fragment and 'id="screen"' in fragment
    assert 'hx-swap-oob="true"' in fragment


def test_htmx_decision_returns_the_next_record_and_progress(client, auth, team, session):
    auth.login(team.ada.email)
    first = team.records[0].id
    response = auth.post(url(team, "decide"), {"record_id": first, "label": "include",
                                               "stage": "title_abstract"}, headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert shown_record(html) == team.records[1].id
    assert re.search(r'data-progress="mine">1<', html)
    stored = session.scalar(sa.select(Decision).where(Decision.record_id == first))
    assert stored.reviewer_id == team.ada.id and stored.label == "include"


def test_plain_form_post_redirects_303_and_the_next_get_shows_the_next_record(client, auth, team):
    auth.login(team.ada.email)
    response = auth.post(url(team, "decide"), {"record_id": team.records[0].id,
                                               "label": "exclude"})
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert shown_record(page) == team.records[1].id
    assert "Saved: exclude" in page


def test_missing_required_reason_is_422_with_the_same_record(client, auth, team, session):
    team.project.reason_required_ta = True
    session.commit()
    auth.login(team.ada.email)
    rec = team.records[0].id
    for headers in (HX, {}):
        response = auth.post(url(team, "decide"), {"record_id": rec, "label": "exclude",
                                                   "note": "kept note"}, headers=headers)
        html = response.get_data(as_text=True)
        assert response.status_code == 422
        assert shown_record(html) == rec and "choose an exclusion reason" in html
        assert "kept note" in html
    assert session.scalar(sa.select(sa.func.count()).select_from(Decision)) == 0
    ok = auth.post(url(team, "decide"), {"record_id": rec, "label": "exclude",
                                         "reason_id": reason_ids(session, team.pid)[2]})
    assert ok.status_code == 303


def test_undo_shows_the_record_again(client, auth, team):
    auth.login(team.ada.email)
    auth.post(url(team, "decide"), {"record_id": team.records[0].id, "label": "include"})
    response = auth.post(url(team, "undo"), {"stage": "title_abstract"}, headers=HX)
    assert shown_record(response.get_data(as_text=True)) == team.records[0].id
    plain = auth.post(url(team, "undo"), {"stage": "title_abstract"})
    assert plain.status_code == 303
    assert "Nothing to undo" in client.get(plain.headers["Location"]).get_data(as_text=True)


def test_second_reviewer_never_sees_the_first_reviewers_decision(client, auth, team):
    rec = team.records[0].id
    auth.login(team.ada.email)
    auth.post(url(team, "decide"), {"record_id": rec, "label": "exclude",
                                    "note": "ADA-PRIVATE-NOTE"})
    auth.post("/logout")
    auth.login(team.ben.email)
    pages = [client.get(url(team)), client.get(url(team), headers=HX),
             client.get(url(team, f"?record={rec}")), client.get(url(team, "mine")),
             client.get(url(team, "mine?q=Record"), headers=HX)]
    for page in pages:
        html = page.get_data(as_text=True)
        assert page.status_code == 200
        assert "ADA-PRIVATE-NOTE" not in html and "Saved: exclude" not in html
        assert 'class="label exclude"' not in html
    assert shown_record(pages[0].get_data(as_text=True)) == rec


def test_my_decisions_revise(client, auth, team, session):
    auth.login(team.ada.email)
    rec = team.records[0].id
    auth.post(url(team, "decide"), {"record_id": rec, "label": "include"})
    page = client.get(url(team, "mine?q=Record")).get_data(as_text=True)
    assert 'class="label include"' in page
    response = auth.post(url(team, "mine"), {"record_id": rec, "label": "exclude",
                                             "stage": "title_abstract", "note": "on reflection"})
    assert response.status_code == 303
    revised = session.scalar(sa.select(Decision).where(Decision.record_id == rec))
    assert (revised.label, revised.note) == ("exclude", "on reflection")
    assert "on reflection" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_highlights_are_escaped_then_marked(client, auth, team, session):
    make_records(session, team.project, 1, title="<script>x</script> Social impact bonds",
                 abstract="Mice & impact bond <b>trial</b>", rank=0)
    session.commit()
    auth.login(team.ada.email)
    html = client.get(url(team)).get_data(as_text=True)
    assert "<script>x</script>" not in html and "&lt;script&gt;" in html
    assert '<mark class="inc">impact bonds</mark>' in html
    assert '<mark class="exc">Mice</mark>' in html and "&lt;b&gt;trial" in html


def test_full_text_stage_shows_text_search_and_doi_link(client, auth, team, session):
    rec = team.records[0]
    rec.full_text, rec.doi = "Methods. The outcome payments were made yearly.", "10.1/x y"
    for user in (team.ada, team.ben):
        session.add(Decision(project_id=team.pid, record_id=rec.id, stage="title_abstract",
                             reviewer_id=user.id, slot=1 if user is team.ada else 2,
                             label="include"))
    session.commit()
    auth.login(team.cat.email)
    html = client.get(url(team, "?stage=full_text&q=payment")).get_data(as_text=True)
    assert shown_record(html) == rec.id
    assert '<mark class="hit">payments</mark>' in html and "1 match" in html
    assert 'href="https://doi.org/10.1/x%20y"' in html


def test_viewer_may_not_screen(client, auth, team):
    auth.login(team.viewer.email)
    assert client.get(url(team)).status_code == 403
    response = auth.post(url(team, "decide"), {"record_id": team.records[0].id,
                                               "label": "include"})
    assert response.status_code == 403


def test_a_plain_form_notice_shows_once_in_the_next_htmx_fragment(client, auth, team):
    auth.login(team.ada.email)
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      client.get(url(team), headers=HX).get_data(as_text=True)).group(1)
    for record in team.records[:3]:  # no page in between shows the flashed notices
        response = client.post(url(team, "decide"), data={
            "record_id": record.id, "label": "include", "csrf_token": token})
        assert response.status_code == 303
    fragment = client.get(url(team), headers=HX).get_data(as_text=True)
    assert all(f"Saved: include (record {r.id})" in fragment for r in team.records[:3])
    assert "Saved:" not in client.get(url(team)).get_data(as_text=True)


def test_a_record_done_by_others_meanwhile_is_not_saved_and_the_next_one_shows(
        client, auth, team, session):
    # Ada's page shows the first record; Ben and Cat give it both its decisions before she posts
    first = team.records[0].id
    for user in (team.ben, team.cat):
        session.add(Decision(project_id=team.pid, record_id=first, stage="title_abstract",
                             reviewer_id=user.id, slot=1 if user is team.ben else 2,
                             label="exclude"))
    session.commit()
    auth.login(team.ada.email)
    for headers, status in ((HX, 200), ({}, 409)):
        response = auth.post(url(team, "decide"), {"record_id": first, "label": "include"},
                             headers=headers)
        html = response.get_data(as_text=True)
        assert response.status_code == status
        assert "Not saved: this record already has all its decisions" in html
        assert shown_record(html) == team.records[1].id
    session.expire_all()
    assert session.scalar(sa.select(sa.func.count()).select_from(Decision).where(
        Decision.reviewer_id == team.ada.id)) == 0


def test_opening_the_page_holds_the_record_so_a_third_reviewer_gets_another(
        client, auth, team):
    # two reviewers per record: Ada and Ben opening the page share the first record, Cat (who
    # opens it before either has decided) is given the second instead of a record she would
    # only be refused on
    seen = {}
    for user in (team.ada, team.ben, team.cat):
        auth.login(user.email)
        seen[user.email] = shown_record(client.get(url(team)).get_data(as_text=True))
        assert shown_record(client.get(url(team)).get_data(as_text=True)) == seen[user.email]
        auth.post("/logout")
    first, second = team.records[0].id, team.records[1].id
    assert [seen[u.email] for u in (team.ada, team.ben, team.cat)] == [first, first, second]
