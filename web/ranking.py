"""Ranking freshness, the stopping page for leads, and the recall chart (SVG, no JavaScript)."""

from __future__ import annotations

import math
from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_htmx import make_response as htmx_response
from flask_login import current_user

from review.errors import ConflictError, ValidationError
from review.services import ranking as ranking_service
from review.services import stopping as service
from review.services.projects import LEAD, READ, role_in
from screening.ranking import DEFAULT_RANKER
from web.areas import area_blueprint
from web.auth import project_for
from web.db import get_session
from web.extensions import htmx

bp = area_blueprint("ranking", __name__, url_prefix="/projects/<int:project_id>/ranking")
RULE_FIELDS = {  # form field -> rule parameter, per rule
    "hypergeometric": ("recall_target", "confidence"),
    "consecutive-irrelevant": ("n_consecutive",),
    "knee": ("target_ratio", "min_screened"),
}



def _fragment_wanted() -> bool:
    return bool(htmx and not htmx.history_restore_request)


def _redirect(url: str) -> ResponseReturnValue:
    return htmx_response(redirect=url) if htmx else redirect(url, 303)


@bp.get("/status")
def status(project_id: int) -> ResponseReturnValue:
    """How fresh the ranking is: the fragment for htmx polling, else a page."""
    project = project_for(project_id, READ)
    session = get_session()
    context = {"project": project, "ranking_status": ranking_service.ranking_status(
        session, project_id=project_id), "role": role_in(
        session, project_id=project_id, user_id=current_user.id),
        "rankers": ranking_service.ranker_options(), "default_ranker": DEFAULT_RANKER}
    if _fragment_wanted():
        return render_template("ranking/_freshness.html", **context)
    return render_template("ranking/status.html", **context)


@bp.post("/retrain")
def retrain(project_id: int) -> ResponseReturnValue:
    """Queue a retrain now (leads), optionally with another ranker or a calibration sample."""
    project_for(project_id, LEAD)
    session = get_session()
    size = request.form.get("calibration_size", "").strip()
    seed = request.form.get("calibration_seed", "").strip()
    if (size and not size.isdigit()) or (seed and not seed.isdigit()):
        raise ValidationError("the calibration size and seed are whole numbers",
                              field="calibration_size")
    calibration = {"size": int(size), "seed": int(seed or 0)} if size else None
    ranking_service.request_retrain(session, project_id=project_id, delay_s=0,
                                    calibration=calibration,
                                    ranker=request.form.get("ranker", "").strip() or None)
    session.commit()
    flash("Retrain queued.", "success")
    return _redirect(url_for("ranking.status", project_id=project_id))


def _report(project_id: int) -> service.StoppingReport:
    target = _float_arg("recall_target", 0.95)
    confidence = _float_arg("confidence", 0.95)
    return service.stopping_report(get_session(), project_id=project_id,
                                   recall_target=target, confidence=confidence)


def _float_arg(name: str, default: float) -> float:
    try:
        value = float(request.values.get(name, default))
    except ValueError:
        return default
    return value if 0.5 <= value <= 0.999 else default


@bp.get("/stopping")
def stopping(project_id: int) -> ResponseReturnValue:
    """The stopping rules on the screening so far, the chart, and the stop form (leads)."""
    project = project_for(project_id, LEAD)
    return render_template("ranking/stopping.html", project=project,
                           report=_report(project_id), rule_fields=RULE_FIELDS, form={})


@bp.post("/stopping")
def stop(project_id: int) -> ResponseReturnValue:
    """Stop screening on a rule: never-screened records are excluded by automation."""
    project = project_for(project_id, LEAD)
    session = get_session()
    rule = request.form.get("rule", "")
    params = {f: request.form.get(f, "") for f in RULE_FIELDS.get(rule, ())}
    try:
        event = service.stop_screening(session, project_id=project_id, stage="title_abstract",
                                       lead_id=current_user.id, rule=rule, params=params,
                                       force=bool(request.form.get("force")))
    except (ValidationError, ConflictError) as exc:
        session.rollback()
        body = render_template("ranking/stopping.html", project=project, error=str(exc),
                               report=_report(project_id), rule_fields=RULE_FIELDS,
                               form=request.form)
        return body, 422
    session.commit()
    flash(f"Screening stopped: {event.n_excluded} records excluded by automation.", "success")
    return _redirect(url_for("ranking.stopping", project_id=project_id))


@bp.post("/stopping/<int:stop_id>/undo")
def undo(project_id: int, stop_id: int) -> ResponseReturnValue:
    """Undo a stop: its records go back into the queue."""
    project_for(project_id, LEAD)
    session = get_session()
    event = service.undo_stop(session, project_id=project_id, stop_id=stop_id,
                              lead_id=current_user.id)
    session.commit()
    flash(f"Stop undone: {event.n_excluded} records back in the queue.", "success")
    return _redirect(url_for("ranking.stopping", project_id=project_id))


@bp.get("/chart.svg")
def chart(project_id: int) -> ResponseReturnValue:
    """Includes found against records screened, and the most there can be in all (SVG)."""
    project_for(project_id, READ)
    body = render_template("ranking/chart.svg", **chart_geometry(_report(project_id)))
    return Response(body, mimetype="image/svg+xml", headers={"Cache-Control": "no-store"})


def chart_geometry(report: service.StoppingReport, *, width: int = 560,
                   height: int = 320) -> dict[str, Any]:
    """Pixel coordinates of the chart: the curve, the band of includes, the axes' labels.

    The band reaches from the includes found to the most there can be (see
    StoppingReport.recall_at_least).
    """
    left, right, top, bottom = 52, 16, 28, 44
    pw, ph = width - left - right, height - top - bottom
    at_most = report.includes_at_most
    y_max = max(report.n_found, 1, int(at_most + 0.999) if at_most else 0)
    y_max = min(y_max, max(report.n_total, 1))
    x_max = max(report.n_total, 1)

    def x(v: float) -> float:
        return round(left + pw * v / x_max, 1)

    def y(v: float) -> float:
        return round(top + ph * (1 - min(v, y_max) / y_max), 1)

    return {
        "width": width, "height": height, "left": left, "top": top, "pw": pw, "ph": ph,
        "points": " ".join(f"{x(s)},{y(f)}" for s, f in report.curve),
        "bound": None if at_most is None else
        {"y_low": y(report.n_found), "y_high": y(at_most), "at_most": at_most},
        "x_ticks": [(x(v), v) for v in _ticks(x_max)],
        "y_ticks": [(y(v), v) for v in _ticks(y_max)],
        "report": report, "x_now": x(report.n_screened),
    }


def _ticks(upper: int, n: int = 4) -> list[int]:
    # a round step (1, 2 or 5 times a power of ten) giving about n ticks
    raw = max(upper / n, 1)
    magnitude = 10 ** (len(str(int(raw))) - 1)
    step = min((m * magnitude for m in (1, 2, 5, 10)), key=lambda c: abs(math.log(c / raw)))
    return list(range(0, upper + 1, step))

