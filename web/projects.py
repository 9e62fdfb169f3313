"""The project list, dashboard, protocol and members pages."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from review.errors import ConflictError, ValidationError
from review.services import audit
from review.services import projects as service
from review.services.dashboard import project_counts
from web.areas import area_blueprint
from web.auth import project_for
from web.db import get_session
from web.forms import protocol_changes

bp = area_blueprint("projects", __name__)



@bp.get("/")
def index() -> ResponseReturnValue:
    """The signed-in user's projects."""
    rows = service.projects_for_user(get_session(), user_id=current_user.id)
    return render_template("projects/index.html", rows=rows)


@bp.post("/projects")
def create() -> ResponseReturnValue:
    """Create a project; its creator becomes its lead."""
    session = get_session()
    try:
        project = service.create_project(session, title=request.form.get("title", ""),
                                         lead_id=current_user.id,
                                         question=request.form.get("question", ""))
    except ValidationError as exc:
        rows = service.projects_for_user(session, user_id=current_user.id)
        return render_template("projects/index.html", rows=rows, error=exc.message), 422
    session.commit()
    return redirect(url_for("projects.dashboard", project_id=project.id), 303)


@bp.get("/projects/<int:project_id>/")
def dashboard(project_id: int) -> ResponseReturnValue:
    """The project dashboard with its counts."""
    project = project_for(project_id)
    session = get_session()
    counts = project_counts(session, project_id=project_id)
    role = service.role_in(session, project_id=project_id, user_id=current_user.id)
    return render_template("projects/dashboard.html", project=project, counts=counts, role=role)


@bp.route("/projects/<int:project_id>/protocol", methods=["GET", "POST"])
def protocol(project_id: int) -> ResponseReturnValue:
    """The protocol: everyone reads it, leads change it."""
    session = get_session()
    writing = request.method == "POST"
    project = project_for(project_id, roles=service.LEAD if writing else service.READ)
    role = service.role_in(session, project_id=project_id, user_id=current_user.id)
    error: str | None = None
    if request.method == "POST":
        try:
            changes, reasons = protocol_changes(request.form)
            service.update_protocol(session, project_id=project_id, user_id=current_user.id,
                                    changes=changes)
            service.set_reasons(session, project_id=project_id, user_id=current_user.id,
                                labels=reasons)
        except ValidationError as exc:
            session.rollback()
            error = exc.message
        else:
            session.commit()
            flash("Protocol saved.", "success")
            return redirect(url_for("projects.protocol", project_id=project_id), 303)
    reasons_list = service.active_reasons(session, project_id=project_id)
    body = render_template("projects/protocol.html", project=project, role=role,
                           reasons=reasons_list, error=error, form=request.form)
    return body, 422 if error else 200


@bp.route("/projects/<int:project_id>/members", methods=["GET", "POST"])
def members(project_id: int) -> ResponseReturnValue:
    """Members and roles; leads add, change and remove members."""
    session = get_session()
    project_for(project_id, roles=service.LEAD if request.method == "POST" else service.READ)
    error: str | None = None
    if request.method == "POST":
        try:
            if request.form.get("remove"):
                service.remove_member(session, project_id=project_id, by_user_id=current_user.id,
                                      user_id=int(request.form["remove"]))
            else:
                service.add_member(session, project_id=project_id, by_user_id=current_user.id,
                                   email=request.form.get("email", ""),
                                   role=request.form.get("role", ""))
        except (ValidationError, ConflictError) as exc:
            session.rollback()
            error = str(exc)
        else:
            session.commit()
            return redirect(url_for("projects.members", project_id=project_id), 303)
    return _members_page(project_id, error)


def _members_page(project_id: int, error: str | None) -> tuple[str, int]:
    session = get_session()
    context: dict[str, Any] = {
        "project": project_for(project_id),
        "members": service.members(session, project_id=project_id),
        "role": service.role_in(session, project_id=project_id, user_id=current_user.id),
        "error": error,
    }
    return render_template("projects/members.html", **context), 422 if error else 200


@bp.get("/projects/<int:project_id>/audit")
def audit_log(project_id: int) -> ResponseReturnValue:
    """The project's audit log (leads)."""
    project = project_for(project_id, roles=service.LEAD)
    events = audit.project_events(get_session(), project_id=project_id)
    return render_template("projects/audit.html", project=project, events=events)

