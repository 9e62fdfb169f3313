"""The screening page: one record at a time, keyboard-driven, htmx with a no-JavaScript path."""

from __future__ import annotations

import random
import re
from pathlib import Path

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    request,
    send_file,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_htmx import make_response as htmx_response
from flask_login import current_user

from review.errors import ConflictError, NotFound, ValidationError
from review.models import Record
from review.services import pilot as pilot_service
from review.services import screening as service
from review.services import screening_pilot as pilot_screening
from review.services.projects import LEAD, READ, SCREEN
from review.services.screening_rules import STAGES, TITLE_ABSTRACT
from web.areas import area_blueprint
from web.auth import project_for, remember_role
from web.db import get_session
from web.extensions import htmx
from web.screening_render import reading_session, render_mine, render_screen, writing_session

bp = area_blueprint("screening", __name__, url_prefix="/projects/<int:project_id>/screening")
SHA_RE = re.compile(r"[0-9a-f]{64}")


def _screener(project_id: int) -> service.Screener:
    """The project and my role in it, if I may screen it (else 404/403)."""
    screener = service.screener(get_session(), project_id=project_id, user_id=current_user.id)
    remember_role(screener.role)
    return screener


def _stage(source: dict | None = None) -> str:
    stage = (source or request.values).get("stage", TITLE_ABSTRACT)
    return stage if stage in STAGES else TITLE_ABSTRACT


def _int(name: str) -> int | None:
    value = request.values.get(name, "").strip()
    return int(value) if value.isdigit() else None


@bp.get("/")
def screen(project_id: int) -> ResponseReturnValue:
    """The next record to screen (or the one asked for, if it is still in my queue).

    The record shown is held for the reviewer (others' queues skip it once enough people read
    it): without that, reviewers opening the page at once would all get the same record.
    """
    screener, stage, record_id = _screener(project_id), _stage(), _int("record")
    shown = None
    if screener.pilot is None and record_id is None:
        shown = service.held_record(get_session(), project=screener.project,
                                    reviewer_id=current_user.id, stage=stage)
        if shown is None:
            shown = _claim_next(screener, stage)
    return render_screen(screener, stage, record_id=record_id, shown=shown,
                         query=request.args.get("q", ""))


@bp.post("/decide")
def decide(project_id: int) -> ResponseReturnValue:
    """Record a decision; htmx gets the next record, plain forms a 303 back to the page."""
    screener = _screener(project_id)
    session, stage, record_id = get_session(), _stage(), _int("record_id")
    if screener.pilot is not None or _int("pilot_id") is not None:
        return _decide_in_pilot(screener, stage, record_id)
    try:
        decision = service.decide(
            session, project=screener.project, record_id=record_id or 0,
            reviewer_id=current_user.id, stage=stage, label=request.form.get("label", ""),
            reason_id=_int("reason_id"), note=request.form.get("note"))
    except ValidationError as exc:
        reading_session()
        return render_screen(screener, stage, record_id=record_id, error=exc.message,
                             form=request.form, status=422)
    except ConflictError as exc:
        session.rollback()
        screener = _screener(project_id)  # the rollback expired the project it had loaded
        shown = _claim_next(screener, stage)
        return render_screen(screener, stage, shown=shown, notice=f"Not saved: {exc}.",
                             status=200 if htmx else 409)
    shown = _claim_next(screener, stage)
    saved = f"Saved: {decision.label} (record {decision.record_id})."
    if htmx:
        return render_screen(screener, stage, shown=shown, notice=saved)
    flash(saved, "success")
    return redirect(url_for(".screen", project_id=project_id, stage=stage), 303)


def _decide_in_pilot(screener: service.Screener, stage: str, record_id: int | None
                     ) -> ResponseReturnValue:
    """A decision while a pilot round is (or was, when the page was drawn) open."""
    session = get_session()
    try:
        decision = pilot_screening.decide_in_pilot(
            session, open_round=screener.pilot, form_pilot_id=_int("pilot_id"),
            project_id=screener.project.id, reviewer_id=current_user.id, stage=stage,
            record_id=record_id or 0, label=request.form.get("label", ""),
            reason_id=_int("reason_id"))
    except ValidationError as exc:
        reading_session()
        return render_screen(screener, stage, record_id=record_id, error=exc.message,
                             form=request.form, status=422)
    except (ConflictError, NotFound) as exc:
        project_id = screener.project.id
        session.rollback()
        reading_session()
        return render_screen(_screener(project_id), stage, notice=f"Not saved: {exc}.",
                             status=200 if htmx else 409)
    session.commit()
    reading_session()
    saved = f"Saved in the pilot round: {decision.label} (record {decision.record_id})."
    if htmx:
        return render_screen(screener, stage, notice=saved)
    flash(saved, "success")
    return redirect(url_for(".screen", project_id=screener.project.id, stage=stage), 303)


def _claim_next(screener: service.Screener, stage: str, record_id: int | None = None
                ) -> Record | None:
    """Hold the record this reviewer sees next, commit, and read on without the write lock.

    Without ``record_id`` the decision commits first and the next record is looked up in a
    read session: on SQLite the scan past the records already done then holds no lock, and the
    write that follows (hold the record, after checking it is still in the queue) is short.
    """
    looked_up = record_id is None
    if looked_up:
        get_session().commit()
        reading_session()
        head = service.queue_head(get_session(), project=screener.project,
                                  reviewer_id=current_user.id, stage=stage)
        if head is None:
            return None
        record_id = head.id
        writing_session()
    session = get_session()
    record = service.claim_next(session, project=screener.project, reviewer_id=current_user.id,
                                stage=stage, record_id=record_id, unless_claimed=looked_up)
    session.commit()
    reading_session()
    return record


@bp.post("/undo")
def undo(project_id: int) -> ResponseReturnValue:
    """Take back my last decision at this stage and show that record again."""
    screener = _screener(project_id)
    session, stage = get_session(), _stage()
    if screener.pilot is not None:  # the latest pilot decision (normal screening waits)
        record_id = pilot_service.undo_pilot_decision(
            session, project_id=project_id, pilot_id=screener.pilot.id,
            reviewer_id=current_user.id) if stage == screener.pilot.stage else None
        session.commit()
        reading_session()
        shown = None
    else:
        record_id = service.undo_last(session, project_id=project_id,
                                      reviewer_id=current_user.id, stage=stage)
        shown = _claim_next(screener, stage, record_id)
    notice = "Last decision undone." if record_id else "Nothing to undo."
    if htmx:
        return render_screen(screener, stage, shown=shown, record_id=record_id, notice=notice)
    flash(notice, "info")
    return redirect(url_for(".screen", project_id=project_id, stage=stage, record=record_id), 303)


@bp.route("/mine", methods=["GET", "POST"])
def mine(project_id: int) -> ResponseReturnValue:
    """My decisions: search them and revise one (every change goes to the audit log)."""
    project = project_for(project_id, SCREEN)
    session, stage = get_session(), _stage()
    query, page = request.values.get("q", ""), _int("page") or 1
    if request.method == "POST":
        try:
            service.record_decision(
                session, project_id=project_id, record_id=_int("record_id") or 0,
                reviewer_id=current_user.id, stage=stage, label=request.form.get("label", ""),
                reason_id=_int("reason_id"), note=request.form.get("note"))
        except (ValidationError, ConflictError) as exc:
            reading_session()
            return render_mine(project, stage, query, page, error=str(exc), status=422)
        session.commit()
        target = url_for(".mine", project_id=project_id, stage=stage, q=query, page=page)
        flash("Decision revised.", "success")
        return htmx_response(redirect=target) if htmx else redirect(target, 303)
    return render_mine(project, stage, query, page)


@bp.post("/quota")
def draw_quota(project_id: int) -> ResponseReturnValue:
    """Leads draw which records get several reviewers when the quota is mixed."""
    project_for(project_id, LEAD)
    session, stage = get_session(), _stage()
    seed = _int("seed")
    seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
    quotas = service.apply_quota(session, project_id=project_id, stage=stage, seed=seed,
                                 user_id=current_user.id)
    session.commit()
    multi = sum(1 for q in quotas.values() if q > 1)
    flash(f"Drawn with seed {seed}: {multi} of {len(quotas)} records get several reviewers.",
          "success")
    return redirect(url_for(".screen", project_id=project_id, stage=stage), 303)


@bp.get("/records/<int:record_id>/pdf")
def pdf(project_id: int, record_id: int) -> Response:
    """The record's attached PDF, shown in the page at full text."""
    project_for(project_id, READ)
    record = get_session().get(Record, record_id)
    if record is None or record.project_id != project_id or not record.pdf_sha256:
        abort(404)
    if not SHA_RE.fullmatch(record.pdf_sha256):
        abort(404)
    path = Path(current_app.instance_path) / "pdfs" / f"{record.pdf_sha256}.pdf"
    if not path.is_file():
        abort(404)
    return send_file(path, mimetype="application/pdf",
                     download_name=record.pdf_filename or f"record-{record_id}.pdf")
