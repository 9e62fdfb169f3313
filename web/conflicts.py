"""Conflicts, pilot rounds and agreement: the leads' queue, the reviewers' outcomes, figures."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_htmx import make_response as htmx_response
from flask_login import current_user

from review.errors import ConflictError, ValidationError
from review.models import STAGES
from review.services import agreement as agreement_service
from review.services import conflicts as service
from review.services import pilot as pilot_service
from review.services.projects import LEAD, READ, SCREEN, active_reasons, role_in
from web.areas import area_blueprint
from web.auth import project_for
from web.db import get_session
from web.extensions import htmx

bp = area_blueprint("conflicts", __name__, url_prefix="/projects/<int:project_id>/conflicts")
STAGE_NAMES = {"title_abstract": "Title/abstract", "full_text": "Full text"}
QUEUE_PAGE = 50  # conflicts listed at once; resolving brings the next ones up




def _stage(source: Any) -> str:
    stage = source.get("stage", "title_abstract")
    return stage if stage in STAGES else "title_abstract"


def _fragment_wanted() -> bool:
    return bool(htmx) and not htmx.history_restore_request


def _optional_int(value: str | None, field: str) -> int | None:
    if not value:
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise ValidationError(f"{field} must be a number", field=field) from exc


def _queue_context(project_id: int, stage: str, record_id: int | None = None,
                   error: str | None = None, notice: str | None = None) -> dict[str, Any]:
    session = get_session()
    queue = service.conflict_queue(session, project_id=project_id, user_id=current_user.id,
                                   stage=stage, limit=QUEUE_PAGE)
    current = next((i for i in queue if i.record.id == record_id), queue[0] if queue else None)
    if record_id is not None and (current is None or current.record.id != record_id):
        current = service.conflict_item(session, project_id=project_id,
                                        user_id=current_user.id, record_id=record_id,
                                        stage=stage)
    return {"project": project_for(project_id, LEAD), "stage": stage, "queue": queue,
            "current": current, "stage_names": STAGE_NAMES, "error": error, "notice": notice,
            "reasons": active_reasons(session, project_id=project_id),
            "counts": service.conflict_counts(session, project_id=project_id)}


@bp.get("/")
def queue(project_id: int) -> ResponseReturnValue:
    """The conflict queue of a stage (leads): one conflict in full, the rest listed."""
    project_for(project_id, LEAD)
    record_id = _optional_int(request.args.get("record"), "record")
    context = _queue_context(project_id, _stage(request.args), record_id)
    template = "conflicts/_conflict.html" if _fragment_wanted() else "conflicts/queue.html"
    return render_template(template, **context)


@bp.post("/<int:record_id>/resolve")
def resolve(project_id: int, record_id: int) -> ResponseReturnValue:
    """Settle a conflict; htmx gets the next conflict in place, plain posts a redirect."""
    project_for(project_id, LEAD)
    session, stage = get_session(), _stage(request.form)
    try:
        service.resolve(session, project_id=project_id, record_id=record_id, stage=stage,
                        lead_id=current_user.id, label=request.form.get("label", ""),
                        reason_id=_optional_int(request.form.get("reason_id"), "reason_id"),
                        note=request.form.get("note"))
    except ValidationError as exc:
        session.rollback()
        return _rerender(project_id, stage, record_id, error=exc.message), 422
    except ConflictError as exc:
        session.rollback()
        return _after_resolve(project_id, stage, notice=f"Not saved: {exc}.", category="error")
    session.commit()
    return _after_resolve(project_id, stage, notice=f"Record {record_id} resolved.")


def _rerender(project_id: int, stage: str, record_id: int, error: str) -> str:
    context = _queue_context(project_id, stage, record_id, error=error)
    template = "conflicts/_conflict.html" if _fragment_wanted() else "conflicts/queue.html"
    return render_template(template, **context)


def _after_resolve(project_id: int, stage: str, notice: str,
                   category: str = "success") -> ResponseReturnValue:
    if _fragment_wanted():
        return render_template("conflicts/_conflict.html",
                               **_queue_context(project_id, stage, notice=notice))
    flash(notice, category)
    return redirect(url_for("conflicts.queue", project_id=project_id, stage=stage), 303)


@bp.get("/resolved")
def resolved(project_id: int) -> ResponseReturnValue:
    """The resolutions of a stage with the decisions they settled, each reversible (leads)."""
    project = project_for(project_id, LEAD)
    stage = _stage(request.args)
    items = service.resolved_conflicts(get_session(), project_id=project_id,
                                       user_id=current_user.id, stage=stage)
    return render_template("conflicts/resolved.html", project=project, stage=stage,
                           items=items, stage_names=STAGE_NAMES)


@bp.post("/<int:record_id>/unresolve")
def unresolve(project_id: int, record_id: int) -> ResponseReturnValue:
    """Reverse a resolution: the record goes back to the queue (leads)."""
    project_for(project_id, LEAD)
    session, stage = get_session(), _stage(request.form)
    service.unresolve(session, project_id=project_id, record_id=record_id, stage=stage,
                      lead_id=current_user.id)
    session.commit()
    flash(f"Resolution of record {record_id} reversed; it is back in the queue.", "success")
    target = url_for("conflicts.resolved", project_id=project_id, stage=stage)
    return htmx_response(redirect=target) if htmx else redirect(target, 303)


@bp.get("/mine")
def mine(project_id: int) -> ResponseReturnValue:
    """The outcome of my own resolved conflicts, to calibrate (reviewers and leads)."""
    project = project_for(project_id, SCREEN)
    outcomes = service.my_resolved(get_session(), project_id=project_id,
                                   user_id=current_user.id)
    return render_template("conflicts/mine.html", project=project, outcomes=outcomes,
                           stage_names=STAGE_NAMES)


@bp.get("/agreement")
def agreement(project_id: int) -> ResponseReturnValue:
    """Agreement per stage and reviewer pair, on the include/exclude or the three-label scale."""
    project = project_for(project_id, READ)
    scale = request.args.get("scale", "binary")
    scale = scale if scale in agreement_service.SCALES else "binary"
    session = get_session()
    results = [agreement_service.stage_agreement(session, project_id=project_id,
                                                 user_id=current_user.id, stage=stage,
                                                 scale=scale) for stage in STAGES]
    role = role_in(session, project_id=project_id, user_id=current_user.id)
    return render_template("conflicts/agreement.html", project=project, results=results,
                           scale=scale, stage_names=STAGE_NAMES, role=role)


@bp.get("/agreement.csv")
def agreement_csv(project_id: int) -> ResponseReturnValue:
    """Every stage on both scales as a CSV download."""
    project_for(project_id, READ)
    text = agreement_service.agreement_csv(get_session(), project_id=project_id,
                                           user_id=current_user.id)
    name = f"agreement-project-{project_id}.csv"
    return Response(text, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})



@bp.get("/pilot")
def pilot(project_id: int) -> ResponseReturnValue:
    """The pilot round: leads start and follow it; reviewers screen its records."""
    project = project_for(project_id, READ)
    session = get_session()
    role = role_in(session, project_id=project_id, user_id=current_user.id)
    rounds = pilot_service.rounds(session, project_id=project_id, user_id=current_user.id)
    current = rounds[0] if rounds else None
    context: dict[str, Any] = {"project": project, "role": role, "rounds": rounds,
                               "current": current, "stage_names": STAGE_NAMES}
    if current is not None:
        context["status"] = pilot_service.pilot_status(
            session, project_id=project_id, pilot_id=current.id, user_id=current_user.id)
        if role in SCREEN and current.closed_at is None:
            context["records"] = pilot_service.pilot_records(
                session, project_id=project_id, pilot_id=current.id, user_id=current_user.id)
            context["reasons"] = active_reasons(session, project_id=project_id)
    return render_template("conflicts/pilot.html", **context)


@bp.post("/pilot/start")
def pilot_start(project_id: int) -> ResponseReturnValue:
    """A lead draws N random records for a pilot round."""
    project_for(project_id, LEAD)
    session = get_session()
    try:
        n = _optional_int(request.form.get("n"), "n") or 0
        seed = _optional_int(request.form.get("seed"), "seed")
        pilot_service.start_pilot(session, project_id=project_id, lead_id=current_user.id,
                                  n=n, stage=_stage(request.form), seed=seed)
    except (ValidationError, ConflictError) as exc:
        session.rollback()
        flash(str(exc), "error")
    else:
        session.commit()
        flash(f"Pilot round started with {n} records.", "success")
    return redirect(url_for("conflicts.pilot", project_id=project_id), 303)


@bp.post("/pilot/<int:pilot_id>/decide")
def pilot_decide(project_id: int, pilot_id: int) -> ResponseReturnValue:
    """A reviewer's pilot decision on one record (kept apart from screening decisions)."""
    project_for(project_id, SCREEN)
    session = get_session()
    record_id = _optional_int(request.form.get("record_id"), "record_id") or 0
    try:
        pilot_service.record_pilot_decision(
            session, project_id=project_id, pilot_id=pilot_id, record_id=record_id,
            reviewer_id=current_user.id, label=request.form.get("label", ""),
            reason_id=_optional_int(request.form.get("reason_id"), "reason_id"))
    except (ValidationError, ConflictError) as exc:
        session.rollback()
        flash(str(exc), "error")
    else:
        session.commit()
    target = url_for("conflicts.pilot", project_id=project_id) + f"#pilot-record-{record_id}"
    return htmx_response(redirect=target) if htmx else redirect(target, 303)


@bp.post("/pilot/<int:pilot_id>/close")
def pilot_close(project_id: int, pilot_id: int) -> ResponseReturnValue:
    """A lead closes the round; reviewers may then see its agreement."""
    project_for(project_id, LEAD)
    session = get_session()
    pilot_service.close_pilot(session, project_id=project_id, pilot_id=pilot_id,
                              lead_id=current_user.id)
    session.commit()
    flash("Pilot round closed.", "success")
    return redirect(url_for("conflicts.pilot", project_id=project_id), 303)
