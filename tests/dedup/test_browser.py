"""A lead works through the duplicate queue with the keyboard (d, n, u, j, k) in Chromium."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from review.models import DuplicateCandidate, Record
from review.services import dedup as service
from tests.conftest import PASSWORD
from tests.factories import make_project, make_user

pytestmark = pytest.mark.browser
TOPICS = ("youth employment in London boroughs", "homelessness among rough sleepers",
          "children on the edge of care")


@pytest.fixture
def queue_of_three(live_server):
    with live_server.session() as session:
        lead = make_user(session)
        project = make_project(session, lead=lead)
        for topic in TOPICS:
            title = f"Outcome payments for {topic}: a study of commissioning"
            for authors in (["Ronicle, James"], ["Ronicle, J."]):
                session.add(Record(project_id=project.id, title=title, authors=authors))
        session.commit()
        service.dedup_new_records(session, project_id=project.id)
        session.commit()
        ids = list(session.scalars(sa.select(DuplicateCandidate.id).order_by(
            DuplicateCandidate.score.desc(), DuplicateCandidate.id)))
        assert len(ids) == 3
        return {"pid": project.id, "lead": lead.email, "pairs": ids}


def statuses(live_server):
    with live_server.session() as session:
        return list(session.scalars(sa.select(DuplicateCandidate.status).order_by(
            DuplicateCandidate.score.desc(), DuplicateCandidate.id)))


def shows(page, candidate_id: int) -> None:
    page.wait_for_selector(f'table.pair[data-candidate="{candidate_id}"]')


def test_lead_decides_pairs_with_the_keyboard(
        live_server, browser_page, sign_in, queue_of_three):
    page, (p1, p2, p3) = browser_page, queue_of_three["pairs"]
    url = f"{live_server.url}/projects/{queue_of_three['pid']}/dedup/"
    sign_in(page, queue_of_three["lead"], PASSWORD)
    page.goto(url)
    shows(page, p1)
    page.evaluate("window.stillHere = true")  # gone if a key caused a full page load
    page.keyboard.press("j")
    shows(page, p2)
    page.keyboard.press("k")
    shows(page, p1)
    page.keyboard.press("d")  # duplicate: the next pair is swapped in, no page load
    shows(page, p2)
    assert page.evaluate("window.stillHere") is True
    page.wait_for_selector('#dedup-counts [data-count="duplicates"]:text-is("1")')
    page.keyboard.press("n")
    shows(page, p3)
    assert statuses(live_server) == ["confirmed", "rejected", "pending"]
    page.keyboard.press("u")  # undo the last decision: pair 2 is back in the queue
    shows(page, p2)
    assert statuses(live_server) == ["confirmed", "pending", "pending"]
    assert page.evaluate("window.stillHere") is True
    page.focus("input[name=min_score]")  # keys typed into a field are not shortcuts
    page.keyboard.press("d")
    page.wait_for_timeout(500)
    assert statuses(live_server) == ["confirmed", "pending", "pending"]


def test_a_key_pressed_while_the_next_pair_settles_acts_on_it_in_place(
        live_server, browser_page, sign_in, queue_of_three):
    # htmx makes swapped-in buttons live only when the swap settles; a key pressed before that
    # used to post the plain form and reload the page. A long settle makes the window certain.
    page, (p1, p2, _) = browser_page, queue_of_three["pairs"]
    sign_in(page, queue_of_three["lead"], PASSWORD)
    page.goto(f"{live_server.url}/projects/{queue_of_three['pid']}/dedup/")
    shows(page, p1)
    page.evaluate("htmx.config.defaultSettleDelay = 600; window.stillHere = true")
    page.keyboard.press("j")
    shows(page, p2)  # swapped in, not settled yet
    page.keyboard.press("d")
    page.wait_for_selector('#dedup-counts [data-count="duplicates"]:text-is("1")')
    assert page.evaluate("window.stillHere") is True
    assert statuses(live_server) == ["pending", "confirmed", "pending"]
