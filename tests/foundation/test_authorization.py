"""Every project URL checks membership and role; checked over every registered route."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from review.models import AuditEvent
from tests.factories import add_member, make_project, make_records, make_user


def project_routes(app, method: str) -> list[str]:
    """Every URL with a project id that accepts ``method``, other ids filled with 1."""
    urls = []
    for rule in app.url_map.iter_rules():
        if "project_id" not in rule.arguments or method not in rule.methods:
            continue
        url = re.sub(r"<(?:[^:<>]+:)?project_id>", "{pid}", rule.rule)
        urls.append(re.sub(r"<(?:[^:<>]+:)?[^<>]+>", "1", url))
    return sorted(set(urls))


@pytest.fixture
def two_projects(session):
    lead_a, lead_b = make_user(session), make_user(session)
    a = make_project(session, lead=lead_a, title="Project A")
    b = make_project(session, lead=lead_b, title="Project B")
    make_records(session, b, 2)
    reviewer, viewer = make_user(session), make_user(session)
    add_member(session, a, reviewer, "reviewer")
    add_member(session, a, viewer, "viewer")
    session.commit()
    return {"a": a, "b": b, "lead_a": lead_a, "reviewer": reviewer, "viewer": viewer}


def test_routes_are_enumerated(app) -> None:
    assert "/projects/{pid}/" in project_routes(app, "GET")
    assert "/projects/{pid}/members" in project_routes(app, "POST")


def test_member_of_a_gets_404_on_every_url_of_b(client, auth, two_projects, app) -> None:
    auth.login(two_projects["lead_a"].email)
    b = two_projects["b"].id
    for url in project_routes(app, "GET"):
        assert client.get(url.format(pid=b)).status_code == 404, url
    for url in project_routes(app, "POST"):
        assert auth.post(url.format(pid=b)).status_code == 404, url


def test_reviewer_cannot_reach_lead_pages(client, auth, two_projects) -> None:
    auth.login(two_projects["reviewer"].email)
    a = two_projects["a"].id
    assert client.get(f"/projects/{a}/").status_code == 200
    assert client.get(f"/projects/{a}/audit").status_code == 403
    response = auth.post(f"/projects/{a}/protocol", {"title": "Hijacked", "reviewers_ta": "1",
                                                     "reviewers_ft": "1"})
    assert response.status_code == 403
    assert auth.post(f"/projects/{a}/members", {"email": "x@y.org", "role": "lead"}
                     ).status_code == 403


def test_viewer_cannot_change_anything(client, auth, two_projects, app, session) -> None:
    auth.login(two_projects["viewer"].email)
    a = two_projects["a"].id
    before = session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    for url in project_routes(app, "POST"):
        status = auth.post(url.format(pid=a)).status_code
        assert status in (403, 404), (url, status)
    session.expire_all()
    assert session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == before
    assert client.get(f"/projects/{a}/").status_code == 200  # but may look


def test_signed_out_users_are_sent_to_sign_in(client, two_projects, app) -> None:
    a = two_projects["a"].id
    for url in project_routes(app, "GET"):
        response = client.get(url.format(pid=a))
        assert response.status_code in (302, 401), url


def test_only_admins_create_accounts(client, auth, session) -> None:
    plain = make_user(session)
    admin = make_user(session, is_admin=True)
    session.commit()
    auth.login(plain.email)
    assert client.get("/admin/users").status_code == 403
    auth.post("/logout")
    auth.login(admin.email)
    response = auth.post("/admin/users", {"name": "New Person", "email": "new@example.org",
                                          "password": "long enough pw"})
    assert response.status_code == 303
    assert "new@example.org" in client.get("/admin/users").get_data(as_text=True)
