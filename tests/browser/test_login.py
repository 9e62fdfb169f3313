"""A person signs in, opens the demo project and sees its dashboard."""

from __future__ import annotations

import pytest

from review.services.demo import DEMO_TITLE, ensure_demo

pytestmark = pytest.mark.browser


def test_reviewer_signs_in_and_sees_the_demo_dashboard(live_server, browser_page, sign_in):
    with live_server.session() as session:
        info = ensure_demo(session)
        session.commit()
    page = browser_page
    page.goto(f"{live_server.url}/projects/{info.project_id}/")
    assert "/login" in page.url  # signed-out people are sent to sign in first
    sign_in(page, "ada@demo.sieve", info.password)
    page.goto(f"{live_server.url}/")
    page.click(f"text={DEMO_TITLE}")
    page.wait_for_url(f"**/projects/{info.project_id}/")
    assert page.locator("h1").inner_text() == DEMO_TITLE
    assert page.locator("[data-count=records]").is_visible()
    assert "reviewer" in page.locator(".role").inner_text()


def test_wrong_password_stays_on_the_sign_in_page(live_server, browser_page):
    with live_server.session() as session:
        ensure_demo(session)
        session.commit()
    page = browser_page
    page.goto(f"{live_server.url}/login")
    page.fill("input[name=email]", "ada@demo.sieve")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    assert page.locator("[role=alert]").is_visible()
    assert "/login" in page.url
