"""An open pilot round pauses normal screening on the screening page until the lead closes it."""

from __future__ import annotations

import re

import sqlalchemy as sa

from review.models import AuditEvent, Decision, PilotDecision
from review.services import pilot as pilot_service

HX = {"HX-Request": "true"}
TA = "title_abstract"


def url(team, path=""):
    return f"/projects/{team.pid}/screening/{path}"


def shown(html):
    match = re.search(r'data-record="(\d+)"', html)
    return int(match.group(1)) if match else None


def pilot_id_in(html):
    match = re.search(r'name="pilot_id" value="(\d+)"', html)
    return int(match.group(1)) if match else None


def start(session, team, n=2):
    pilot = pilot_service.start_pilot(session, project_id=team.pid, lead_id=team.lead.id, n=n,
                                      seed=3)
    session.commit()
    return pilot


def count(session, model):
    session.commit()  # a fresh snapshot: what the app committed
    return session.scalar(sa.select(sa.func.count()).select_from(model))


def test_pilot_records_only_then_a_calm_wait_then_screening_resumes(client, auth, team,
                                                                      session):
    pilot = start(session, team)
    auth.login(team.ada.email)
    page = client.get(url(team)).get_data(as_text=True)
    assert shown(page) == pilot.record_ids[0] and pilot_id_in(page) == pilot.id
    assert "Pilot round" in page and 'data-progress="pilot-mine">0<' in page
    # Plain form, then htmx: both are pilot decisions, not screening decisions.
    first = auth.post(url(team, "decide"), {"record_id": pilot.record_ids[0], "label": "include",
                                            "stage": TA, "pilot_id": pilot.id})
    assert first.status_code == 303
    fragment = client.get(url(team), headers=HX).get_data(as_text=True)
    assert shown(fragment) == pilot.record_ids[1]
    last = auth.post(url(team, "decide"), {"record_id": pilot.record_ids[1], "label": "exclude",
                                           "stage": TA, "pilot_id": pilot.id}, headers=HX)
    html = last.get_data(as_text=True)
    assert last.status_code == 200 and shown(html) is None
    assert "You have screened every pilot record" in html and "data-pilot-waiting" in html
    assert count(session, PilotDecision) == 2 and count(session, Decision) == 0
    # Still nothing else to screen while the round is open, at either stage.
    assert shown(client.get(url(team)).get_data(as_text=True)) is None
    other = client.get(url(team, "?stage=full_text")).get_data(as_text=True)
    assert "Screening is paused for a pilot round" in other and shown(other) is None

    pilot_service.close_pilot(session, project_id=team.pid, pilot_id=pilot.id,
                              lead_id=team.lead.id)
    session.commit()
    page = client.get(url(team)).get_data(as_text=True)
    assert shown(page) == team.records[0].id and pilot_id_in(page) is None
    assert 'data-progress="mine">0<' in page


def test_no_normal_decision_while_paused_and_none_into_a_closed_round(client, auth, team,
                                                                     session):
    pilot = start(session, team)
    auth.login(team.ada.email)
    normal = next(r for r in team.records if r.id not in pilot.record_ids)
    paused = auth.post(url(team, "decide"), {"record_id": normal.id, "label": "include"})
    assert paused.status_code == 409 and "paused" in paused.get_data(as_text=True)
    pilot_service.close_pilot(session, project_id=team.pid, pilot_id=pilot.id,
                              lead_id=team.lead.id)
    session.commit()
    stale = auth.post(url(team, "decide"), {"record_id": pilot.record_ids[0],
                                            "label": "include", "pilot_id": pilot.id})
    assert stale.status_code == 409 and "closed" in stale.get_data(as_text=True)
    assert count(session, PilotDecision) == 0 and count(session, Decision) == 0


def test_undo_takes_back_my_last_pilot_decision(client, auth, team, session):
    pilot = start(session, team, n=3)
    auth.login(team.ada.email)
    for rid in pilot.record_ids[:2]:
        auth.post(url(team, "decide"), {"record_id": rid, "label": "include",
                                        "pilot_id": pilot.id})
    undone = auth.post(url(team, "undo"), {"stage": TA}, headers=HX)
    assert shown(undone.get_data(as_text=True)) == pilot.record_ids[1]
    assert count(session, PilotDecision) == 1
    event = session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "pilot.undo"))
    assert event.before["record_id"] == pilot.record_ids[1]


def test_a_reviewer_sees_only_their_own_pilot_progress(client, auth, team, session):
    pilot = start(session, team)
    for rid in pilot.record_ids:
        pilot_service.record_pilot_decision(session, project_id=team.pid, pilot_id=pilot.id,
                                            record_id=rid, reviewer_id=team.ada.id,
                                            label="exclude")
    session.commit()
    auth.login(team.ben.email)
    page = client.get(url(team)).get_data(as_text=True)
    assert shown(page) == pilot.record_ids[0] and 'data-progress="pilot-mine">0<' in page
    assert "exclude" not in re.sub(r"<(form|button|select|option)[^>]*>", "",
                                   page.split('id="screen"')[1].split("decide-form")[0])
