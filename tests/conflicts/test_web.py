"""The conflict queue, resolved list, reviewer outcomes, agreement and pilot pages."""

from __future__ import annotations

import csv
import io

import sqlalchemy as sa

from review.models import PilotDecision, PilotRound, Resolution
from tests.conflicts.conftest import decide

TA = "title_abstract"


def _conflicts(session, team, n=2):
    for record in team.records[:n]:
        decide(session, record, team.alice, "include", note="<b>looks like a SIB</b>")
        decide(session, record, team.bob, "exclude", reason_id=team.reasons[0].id,
               note="no payment by results")
    decide(session, team.records[n], team.alice, "include")
    decide(session, team.records[n], team.bob, "maybe")
    session.commit()


def _count(client, project_id, name):
    page = client.get(f"/projects/{project_id}/").get_data(as_text=True)
    marker = f'data-count="{name}">'
    return int(page.split(marker, 1)[1].split("<", 1)[0])


def test_lead_sees_both_decisions_and_resolves_without_js(client, auth, session, team) -> None:
    _conflicts(session, team)
    pid = team.project.id
    auth.login(team.lead.email)
    page = client.get(f"/projects/{pid}/conflicts/")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in text
    assert "Alice" in text and "Bob" in text and "no payment by results" in text
    assert team.reasons[0].label in text
    assert "&lt;b&gt;looks like a SIB&lt;/b&gt;" in text  # notes are escaped
    assert 'data-open="2"' in text
    assert (_count(client, pid, "conflicts"), _count(client, pid, "included")) == (2, 1)

    first = team.records[0].id
    response = auth.post(f"/projects/{pid}/conflicts/{first}/resolve",
                         {"stage": TA, "label": "include", "note": "criterion 2 met"})
    assert response.status_code == 303
    assert (_count(client, pid, "conflicts"), _count(client, pid, "included")) == (1, 2)
    resolution = session.scalar(sa.select(Resolution))
    assert (resolution.label, resolution.note, resolution.lead_id) == (
        "include", "criterion 2 met", team.lead.id)


def test_htmx_resolve_swaps_in_the_next_conflict(client, auth, session, team) -> None:
    _conflicts(session, team)
    pid, first, second = team.project.id, team.records[0].id, team.records[1].id
    auth.login(team.lead.email)
    fragment = client.get(f"/projects/{pid}/conflicts/", headers={"HX-Request": "true"})
    assert "<html" not in fragment.get_data(as_text=True)
    assert "HX-Request" in fragment.headers.get("Vary", "")
    response = auth.post(f"/projects/{pid}/conflicts/{first}/resolve",
                         {"stage": TA, "label": "exclude", "reason_id": team.reasons[2].id},
                         headers={"HX-Request": "true"})
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in text
    assert f'data-record="{second}"' in text and 'data-open="1"' in text
    response = auth.post(f"/projects/{pid}/conflicts/{second}/resolve",
                         {"stage": TA, "label": "include"}, headers={"HX-Request": "true"})
    assert "No open conflicts" in response.get_data(as_text=True)


def test_form_errors_come_back_as_422_with_the_same_conflict(client, auth, session, team) -> None:
    _conflicts(session, team)
    pid, first = team.project.id, team.records[0].id
    auth.login(team.lead.email)
    response = auth.post(f"/projects/{pid}/conflicts/{first}/resolve", {"stage": TA},
                         headers={"HX-Request": "true"})
    text = response.get_data(as_text=True)
    assert response.status_code == 422 and f'data-record="{first}"' in text
    assert "include or exclude" in text
    assert session.scalar(sa.select(sa.func.count()).select_from(Resolution)) == 0


def test_reviewers_and_viewers_cannot_reach_the_queue(client, auth, session, team) -> None:
    _conflicts(session, team)
    pid, first = team.project.id, team.records[0].id
    for user in (team.alice, team.viewer):
        auth.login(user.email)
        assert client.get(f"/projects/{pid}/conflicts/").status_code == 403
        assert client.get(f"/projects/{pid}/conflicts/resolved").status_code == 403
        assert auth.post(f"/projects/{pid}/conflicts/{first}/resolve",
                         {"stage": TA, "label": "include"}).status_code == 403
        assert client.get(f"/projects/{pid}/conflicts/agreement").status_code == 200
        auth.post("/logout")
    assert session.scalar(sa.select(sa.func.count()).select_from(Resolution)) == 0


def test_reverse_puts_the_conflict_back_and_reviewer_sees_outcome(
        client, auth, session, team) -> None:
    _conflicts(session, team, n=1)
    pid, rid = team.project.id, team.records[0].id
    auth.login(team.lead.email)
    auth.post(f"/projects/{pid}/conflicts/{rid}/resolve",
              {"stage": TA, "label": "exclude", "reason_id": team.reasons[0].id,
               "note": "not outcomes-based"})
    resolved = client.get(f"/projects/{pid}/conflicts/resolved").get_data(as_text=True)
    assert "not outcomes-based" in resolved and "Reverse this resolution" in resolved
    auth.post("/logout")

    auth.login(team.alice.email)
    mine = client.get(f"/projects/{pid}/conflicts/mine").get_data(as_text=True)
    assert "not outcomes-based" in mine and "(differs)" in mine
    assert "no payment by results" not in mine  # Bob's note is not shown to Alice
    auth.post("/logout")

    auth.login(team.lead.email)
    response = auth.post(f"/projects/{pid}/conflicts/{rid}/unresolve", {"stage": TA})
    assert response.status_code == 303
    assert 'data-open="1"' in client.get(f"/projects/{pid}/conflicts/").get_data(as_text=True)
    assert _count(client, pid, "conflicts") == 1


def test_agreement_page_and_csv(client, auth, session, team) -> None:
    _conflicts(session, team)
    pid = team.project.id
    auth.login(team.viewer.email)
    page = client.get(f"/projects/{pid}/conflicts/agreement").get_data(as_text=True)
    assert "Alice / Bob" in page and "33.3%" in page  # 1 of 3 records agreed
    labels = client.get(f"/projects/{pid}/conflicts/agreement?scale=labels").get_data(
        as_text=True)
    assert "maybe" in labels
    response = client.get(f"/projects/{pid}/conflicts/agreement.csv")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    binary = next(r for r in rows if r["stage"] == TA and r["scale"] == "binary")
    assert (binary["n"], binary["a_include_b_exclude"], binary["a_include_b_include"]) == (
        "3", "2", "1")


def test_pilot_round_through_the_pages(client, auth, session, team) -> None:
    pid = team.project.id
    auth.login(team.alice.email)
    assert auth.post(f"/projects/{pid}/conflicts/pilot/start", {"n": "3"}).status_code == 403
    auth.post("/logout")
    auth.login(team.lead.email)
    response = auth.post(f"/projects/{pid}/conflicts/pilot/start",
                         {"n": "3", "seed": "11", "stage": TA})
    assert response.status_code == 303
    pilot = session.scalar(sa.select(PilotRound))
    assert pilot.seed == 11 and len(pilot.record_ids) == 3
    session.commit()  # end the read snapshot so the count below sees the app's writes
    auth.post("/logout")
    for user, labels in ((team.alice, ["include", "exclude", "include"]),
                         (team.bob, ["include", "exclude", "exclude"])):
        auth.login(user.email)
        page = client.get(f"/projects/{pid}/conflicts/pilot").get_data(as_text=True)
        assert page.count('class="card pilot-record"') == 3
        assert 'class="list agreement"' not in page  # no figures for reviewers yet
        for rid, label in zip(pilot.record_ids, labels, strict=True):
            response = auth.post(f"/projects/{pid}/conflicts/pilot/{pilot.id}/decide",
                                 {"record_id": rid, "label": label})
            assert response.status_code == 303
        auth.post("/logout")
    assert session.scalar(sa.select(sa.func.count()).select_from(PilotDecision)) == 6
    auth.login(team.lead.email)
    page = client.get(f"/projects/{pid}/conflicts/pilot").get_data(as_text=True)
    assert 'data-complete="yes"' in page and "Alice / Bob" in page and "66.7%" in page
    response = auth.post(f"/projects/{pid}/conflicts/pilot/{pilot.id}/close")
    assert response.status_code == 303
    session.commit()
    session.expire_all()
    assert session.get(PilotRound, pilot.id).closed_at is not None


def test_a_stale_resolve_says_so_and_moves_on(client, auth, session, team) -> None:
    _conflicts(session, team)
    pid, first = team.project.id, team.records[0].id
    auth.login(team.lead.email)
    auth.post(f"/projects/{pid}/conflicts/{first}/resolve", {"stage": TA, "label": "include"})
    # The same form sent again (another tab, another lead): nothing changes.
    response = auth.post(f"/projects/{pid}/conflicts/{first}/resolve",
                         {"stage": TA, "label": "exclude"}, headers={"HX-Request": "true"})
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "Not saved" in text
    assert f'data-record="{team.records[1].id}"' in text
    session.commit()
    assert session.scalar(sa.select(Resolution.label)) == "include"
