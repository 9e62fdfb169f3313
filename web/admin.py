"""Account administration (admins only)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from review.errors import ConflictError, ValidationError
from review.services import users as service
from web.auth import admin_required
from web.db import get_session

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/users", methods=["GET", "POST"])
@admin_required
def users() -> ResponseReturnValue:
    """List accounts and create new ones."""
    session = get_session()
    error = None
    if request.method == "POST":
        try:
            service.create_user(session, email=request.form.get("email", ""),
                                name=request.form.get("name", ""),
                                password=request.form.get("password", ""),
                                is_admin=request.form.get("is_admin") == "on",
                                created_by_id=current_user.id)
        except (ValidationError, ConflictError) as exc:
            session.rollback()
            error = str(exc)
        else:
            session.commit()
            return redirect(url_for("admin.users"), 303)
    body = render_template("admin/users.html", users=service.list_users(session), error=error,
                           form=request.form)
    return body, 422 if error else 200
