"""Two reviewers screen the same records with the keyboard; a lead resolves the one conflict.

Blinding: the second reviewer's page never shows the first reviewer's decision or note.
"""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD
from tests.factories import add_member, make_project, make_records, make_user

pytestmark = pytest.mark.browser

ALICE_NOTE = "alice-note-7f3a"
# record position -> (Alice's key, Bob's key): agree include, disagree, agree exclude.
PLAN = {0: ("i", "i"), 1: ("i", "e"), 2: ("e", "e")}


@pytest.fixture
def review(live_server):
    with live_server.session() as session:
        lead = make_user(session, email="lena@example.org", name="Lena Lead")
        alice = make_user(session, email="alice@example.org", name="Alice Reviewer")
        bob = make_user(session, email="bob@example.org", name="Bob Reviewer")
        project = make_project(session, lead=lead, title="Dual screening review")
        add_member(session, project, alice, "reviewer")
        add_member(session, project, bob, "reviewer")
        records = make_records(session, project, 3)
        for rank, record in enumerate(records, start=1):
            record.rank = rank  # the order both reviewers get
        session.commit()
        return {"project_id": project.id, "record_ids": [r.id for r in records]}


def _counts(page, base, project_id):
    page.goto(f"{base}/projects/{project_id}/")
    return {name: int(page.locator(f"[data-count={name}]").inner_text())
            for name in ("screened", "conflicts", "included")}


def _screen_all(page, base, project_id, record_ids, which, *, note=None, forbidden=()):
    """Decide every record with the keyboard; check the page never shows ``forbidden``."""
    page.goto(f"{base}/projects/{project_id}/screening/?stage=title_abstract")
    for _ in record_ids:
        screen = page.locator("#screen")
        current = int(screen.get_attribute("data-record"))
        html = page.content()
        for text in forbidden:
            assert text not in html, f"{text!r} leaked onto another reviewer's page"
        if note:
            page.fill("#decide-form textarea[name=note]", note)
            page.keyboard.press("Escape")  # leave the field so the next key is a decision
        page.keyboard.press(PLAN[record_ids.index(current)][which])
        # 30 s: the decision's POST may wait for SQLite's write lock on a busy CI machine.
        page.wait_for_function(
            "prev => { const s = document.querySelector('#screen');"
            " return s && s.dataset.record !== String(prev); }", arg=current, timeout=30_000)
    assert "Nothing left for you" in page.locator("#screen").inner_text()
    for text in forbidden:
        assert text not in page.content()


def test_two_reviewers_one_conflict_lead_resolves(live_server, review, new_page, sign_in):
    base, pid, ids = live_server.url, review["project_id"], review["record_ids"]
    alice, bob, lead = new_page(), new_page(), new_page()
    sign_in(alice, "alice@example.org", PASSWORD)
    sign_in(bob, "bob@example.org", PASSWORD)
    sign_in(lead, "lena@example.org", PASSWORD)

    _screen_all(alice, base, pid, ids, 0, note=ALICE_NOTE)
    assert _counts(lead, base, pid) == {"screened": 3, "conflicts": 0, "included": 0}

    _screen_all(bob, base, pid, ids, 1, forbidden=(ALICE_NOTE, "Alice Reviewer"))
    assert _counts(lead, base, pid) == {"screened": 3, "conflicts": 1, "included": 1}

    # Bob cannot reach the queue; the lead can, and sees both decisions and Alice's note.
    response = bob.goto(f"{base}/projects/{pid}/conflicts/")
    assert response.status == 403
    lead.goto(f"{base}/projects/{pid}/conflicts/")
    conflict = lead.locator("#conflict")
    assert conflict.get_attribute("data-record") == str(ids[1])
    text = conflict.inner_text()
    assert "Alice Reviewer" in text and "Bob Reviewer" in text and ALICE_NOTE in text
    lead.fill("#conflict textarea[name=note]", "Payment by results is described")
    lead.click("#conflict button[value=include]")
    lead.wait_for_selector("text=No open conflicts")  # swapped in place by htmx
    assert "/conflicts/" in lead.url

    assert _counts(lead, base, pid) == {"screened": 3, "conflicts": 0, "included": 2}

    # Bob sees the outcome of his overruled decision, not Alice's note.
    bob.goto(f"{base}/projects/{pid}/conflicts/mine")
    mine = bob.locator("table.mine").inner_text()
    assert "Payment by results is described" in mine and "(differs)" in mine
    assert ALICE_NOTE not in bob.content()


def test_pilot_round_agreement_before_screening(live_server, review, new_page, sign_in):
    base, pid = live_server.url, review["project_id"]
    alice, bob, lead = new_page(), new_page(), new_page()
    sign_in(alice, "alice@example.org", PASSWORD)
    sign_in(bob, "bob@example.org", PASSWORD)
    sign_in(lead, "lena@example.org", PASSWORD)

    lead.goto(f"{base}/projects/{pid}/conflicts/pilot")
    lead.fill("input[name=n]", "2")
    lead.fill("input[name=seed]", "42")
    lead.click("text=Draw and start")
    assert "seed 42" in lead.locator("#pilot-status").inner_text()

    # Alice screens the pilot on the screening page with the keyboard: only pilot records
    # come, then a calm page says the round waits for the others.
    alice.goto(f"{base}/projects/{pid}/screening/?stage=title_abstract")
    for key in ("i", "e"):
        current = alice.locator("#screen").get_attribute("data-record")
        assert alice.locator(".pilot-banner").count() == 1
        alice.keyboard.press(key)
        alice.wait_for_function(
            "prev => { const s = document.querySelector('#screen');"
            " return s && s.dataset.record !== prev; }", arg=current, timeout=30_000)
    assert "You have screened every pilot record" in alice.locator("#screen").inner_text()

    for page, labels in ((alice, ("Include", "Exclude")), (bob, ("Include", "Include"))):
        page.goto(f"{base}/projects/{pid}/conflicts/pilot")
        assert page.locator("table.agreement").count() == 0  # no figures while open
        for index, label in enumerate(labels):
            if page is bob:
                page.locator(".pilot-record").nth(index).get_by_role(
                    "button", name=label).click()
                page.wait_for_load_state()
        decided = page.locator(".pilot-record").evaluate_all(
            "els => els.map(e => e.dataset.decided)")
        assert decided == [label.lower() for label in labels]

    lead.goto(f"{base}/projects/{pid}/conflicts/pilot")
    assert lead.locator("#pilot-status").get_attribute("data-complete") == "yes"
    row = lead.locator("table.agreement tbody > tr").first.inner_text()
    assert "Alice Reviewer / Bob Reviewer" in row and "50.0%" in row
    # The pilot used no screening quota: the dashboard still shows nothing screened.
    assert _counts(lead, base, pid)["screened"] == 0
    # Once the lead closes the round, Alice's screening goes on with the normal queue.
    lead.goto(f"{base}/projects/{pid}/conflicts/pilot")
    lead.click("#pilot-status button[type=submit]")
    lead.wait_for_load_state()
    alice.goto(f"{base}/projects/{pid}/screening/?stage=title_abstract")
    assert alice.locator("#screen").get_attribute("data-record") == str(review["record_ids"][0])
    assert alice.locator(".pilot-banner").count() == 0
