"""Sign in and out, the current user, and the project access helpers every area uses."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import UserMixin, current_user, login_required, login_user, logout_user

from review.errors import RateLimited, ValidationError
from review.models import Project, User
from review.services import projects as project_service
from review.services import users as user_service
from web.db import get_session
from web.extensions import login_manager

bp = Blueprint("auth", __name__)


class SessionUser(UserMixin):
    """The signed-in user as Flask-Login sees it: a detached copy of the account."""

    def __init__(self, user: User) -> None:
        self.id = user.id
        self.email = user.email
        self.name = user.name
        self.is_admin = user.is_admin
        self._active = user.is_active

    @property
    def is_active(self) -> bool:
        """Deactivated accounts cannot sign in."""
        return self._active


@login_manager.user_loader
def load_user(user_id: str) -> SessionUser | None:
    """The account behind a session cookie.

    A GET reads it in the request's own (read-only) session. Other methods read it in a
    session of its own: their request session takes SQLite's write lock when it begins, and
    signing in should not hold it.
    """
    if request.method in ("GET", "HEAD"):
        user = get_session().get(User, int(user_id))
        return SessionUser(user) if user is not None else None
    with current_app.extensions["sieve_read_sessionmaker"]() as session:
        user = session.get(User, int(user_id))
        return SessionUser(user) if user is not None else None


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """Sign in with email and password; failures are throttled per account."""
    error = None
    status = 200
    headers: dict[str, str] = {}
    if request.method == "POST":
        session = get_session()
        email = request.form.get("email", "")
        try:
            user = user_service.authenticate(session, email=email,
                                             password=request.form.get("password", ""),
                                             ip=request.remote_addr)
        except ValidationError as exc:
            session.commit()
            error, status = str(exc), 401
        except RateLimited as exc:
            error, status = str(exc), 429
            headers["Retry-After"] = str(exc.retry_after)
        else:
            session.commit()
            login_user(SessionUser(user), remember=bool(request.form.get("remember")))
            return redirect(_safe_next(request.args.get("next")), 303)
    return render_template("auth/login.html", error=error), status, headers


@bp.post("/logout")
@login_required
def logout() -> ResponseReturnValue:
    """Sign out."""
    logout_user()
    flash("Signed out.", "info")
    return redirect(url_for("auth.login"), 303)


def _safe_next(target: str | None) -> str:
    # Only same-site relative paths, so ?next= cannot send a user elsewhere.
    if target and target.startswith("/") and not urlsplit(target).netloc and "\\" not in target:
        return target
    return url_for("projects.index")


def project_for(project_id: int, roles: tuple[str, ...] = project_service.READ) -> Project:
    """The project if the signed-in user may act on it with one of ``roles`` (else 404/403).

    The user's role is remembered for the page's navigation (see remember_role).
    """
    membership = project_service.require_membership(get_session(), project_id=project_id,
                                                    user_id=current_user.id, roles=roles)
    remember_role(membership.role)
    return membership.project


def remember_role(role: str) -> None:
    """Keep the signed-in user's role in this request's project, for the navigation links."""
    g.project_role = role


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Only admins; others get 403."""

    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapped
