"""Two reviewers screen the same records with the keyboard; blinding holds in the browser."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from review.models import Decision
from tests.conftest import PASSWORD
from tests.factories import add_member, make_project, make_records, make_user

pytestmark = pytest.mark.browser


@pytest.fixture
def screening_team(live_server):
    with live_server.session() as session:
        lead, ada, ben = make_user(session), make_user(session), make_user(session)
        project = make_project(session, lead=lead, include_terms=["impact bond"])
        add_member(session, project, ada, "reviewer")
        add_member(session, project, ben, "reviewer")
        records = make_records(session, project, 3)
        session.commit()
        return {"pid": project.id, "ada": ada.email, "ben": ben.email,
                "records": [r.id for r in records]}


def shows(page, record_id: int) -> None:
    page.wait_for_selector(f'#screen[data-record="{record_id}"]')


def test_two_reviewers_screen_with_keys_and_never_see_each_other(
        live_server, new_page, sign_in, screening_team):
    pid, (r1, r2, r3) = screening_team["pid"], screening_team["records"]
    screen_url = f"{live_server.url}/projects/{pid}/screening/"
    ada, ben = new_page(), new_page()

    sign_in(ada, screening_team["ada"], PASSWORD)
    ada.goto(screen_url)
    shows(ada, r1)
    ada.fill("textarea[name=note]", "ADA-PRIVATE-NOTE")
    ada.keyboard.press("Escape")  # leave the note field: keys work again
    ada.keyboard.press("i")
    shows(ada, r2)
    assert ada.url == screen_url  # no page load: htmx swapped the record in
    assert ada.locator('[data-progress="mine"]').inner_text() == "1"
    ada.keyboard.press("e")
    shows(ada, r3)

    sign_in(ben, screening_team["ben"], PASSWORD)
    ben.goto(screen_url)
    shows(ben, r1)  # Ada's decisions leave both records open for Ben
    for text in ("ADA-PRIVATE-NOTE", "Saved:", "include (record"):
        assert text not in ben.content()
    ben.keyboard.press("e")  # disagrees with Ada: a conflict
    shows(ben, r2)
    assert "ADA-PRIVATE-NOTE" not in ben.content()
    ben.keyboard.press("e")
    shows(ben, r3)
    ben.keyboard.press("u")  # undo: record 2 comes back
    shows(ben, r2)
    ben.keyboard.press("?")  # acts once the swap has settled (keys.js)
    ben.wait_for_selector("#key-help", state="visible")

    with live_server.session() as session:
        rows = session.execute(sa.select(Decision.record_id, Decision.reviewer_id,
                                          Decision.label, Decision.note)
                               .order_by(Decision.id)).all()
    labels = {(r, label) for r, _, label, _ in rows}
    assert labels == {(r1, "include"), (r2, "exclude"), (r1, "exclude")}
    assert [note for *_, note in rows if note] == ["ADA-PRIVATE-NOTE"]


def test_the_same_page_works_without_javascript(live_server, chromium, screening_team):
    context = chromium.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/login")
        page.fill("input[name=email]", screening_team["ada"])
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"{live_server.url}/projects/{screening_team['pid']}/screening/")
        r1, r2, _ = screening_team["records"]
        shows(page, r1)
        page.click("button[value=maybe]")
        shows(page, r2)
        assert "Saved: maybe" in page.content()
    finally:
        context.close()


def test_a_key_pressed_while_the_next_record_settles_decides_it_in_place(
        live_server, new_page, sign_in, screening_team):
    # htmx makes a swapped-in form live only when the swap settles; a key pressed before that
    # used to post the plain form and reload the page. A long settle makes the window certain.
    pid, (r1, r2, r3) = screening_team["pid"], screening_team["records"]
    page = new_page()
    sign_in(page, screening_team["ada"], PASSWORD)
    page.goto(f"{live_server.url}/projects/{pid}/screening/")
    shows(page, r1)
    page.evaluate("htmx.config.defaultSettleDelay = 600; window.stillHere = true")
    page.keyboard.press("i")
    shows(page, r2)  # swapped in, not settled yet
    page.keyboard.press("e")
    # another swap (the ranking freshness, polled) that settles first must not release the key
    page.evaluate("""() => new Promise(done => {
        document.addEventListener("htmx:afterSettle", done, {once: true});
        htmx.ajax("GET", document.querySelector("#ranking-freshness").getAttribute("hx-get"),
                  {target: "#ranking-freshness", swap: "outerHTML settle:0ms"});
    })""")
    shows(page, r3)
    assert page.evaluate("window.stillHere") is True
    with live_server.session() as session:
        rows = session.execute(sa.select(Decision.record_id, Decision.label)
                               .order_by(Decision.id)).all()
    assert [tuple(row) for row in rows] == [(r1, "include"), (r2, "exclude")]
