"""Signing in and out, throttling, CSRF and cookie flags."""

from __future__ import annotations

from tests.conftest import CSRF_RE, PASSWORD, csrf_from
from tests.factories import make_user


def test_sign_in_and_out(client, session, auth) -> None:
    user = make_user(session, name="Ana Lima")
    session.commit()
    response = auth.login(user.email)
    assert response.status_code == 303
    page = client.get("/")
    assert page.status_code == 200 and "Ana Lima" in page.get_data(as_text=True)
    assert auth.post("/logout").status_code == 303
    assert client.get("/").status_code == 302  # back to the sign-in page


def test_wrong_password_is_refused(client, session, auth) -> None:
    user = make_user(session)
    session.commit()
    response = auth.login(user.email, "not the password")
    assert response.status_code == 401
    assert "wrong email or password" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_sign_in_is_throttled_after_repeated_failures(client, session, auth) -> None:
    user = make_user(session)
    session.commit()
    for _ in range(5):
        assert auth.login(user.email, "guess").status_code == 401
    blocked = auth.login(user.email, PASSWORD)  # even the right password waits now
    assert blocked.status_code == 429
    assert "Retry-After" in blocked.headers
    assert client.get("/").status_code == 302


def test_post_without_csrf_token_is_refused(client, session, auth) -> None:
    user = make_user(session)
    session.commit()
    no_token = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert no_token.status_code == 400
    auth.login(user.email)
    refused = client.post("/projects", data={"title": "Sneaky"})
    assert refused.status_code == 400
    assert "Sneaky" not in client.get("/").get_data(as_text=True)


def test_htmx_requests_carry_the_token_in_a_header(client, session, auth) -> None:
    user = make_user(session)
    session.commit()
    auth.login(user.email)
    page = client.get("/").get_data(as_text=True)
    # The token is signed with a timestamp, so read both from the same page.
    token = CSRF_RE.search(page).group(1)
    assert f'hx-headers=\'{{"X-CSRFToken": "{token}"}}\'' in page
    response = client.post("/projects", data={"title": "Via htmx"},
                           headers={"X-CSRFToken": token, "HX-Request": "true"})
    assert response.status_code == 303


def test_session_cookie_flags(client, session, auth) -> None:
    user = make_user(session)
    session.commit()
    response = auth.login(user.email)
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_next_parameter_cannot_leave_the_site(client, session) -> None:
    user = make_user(session)
    session.commit()
    token = csrf_from(client)
    response = client.post("/login?next=//evil.example/x",
                           data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == "/"
