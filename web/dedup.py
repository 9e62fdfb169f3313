"""The duplicates area: the lead's review queue, merged groups, runs, and reviewers' flags.

One URL, two renders: with htmx the queue's panel (current pair, recent decisions) comes back
as a fragment, so deciding swaps in the next pair; without JavaScript every form is a plain POST
answered with a 303 back to the page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import (
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_htmx import make_response as htmx_response
from flask_login import current_user

from review import jobs_registry  # noqa: F401  (every job kind, for JOBS_INLINE runs)
from review.errors import ConflictError, ValidationError
from review.jobs import run_pending
from review.models import DuplicateCandidate, Record
from review.services import dedup as service
from review.services import dedup_queue as queries
from review.services.dedup_graph import same_group
from review.services.projects import LEAD, READ, SCREEN, role_in
from web.areas import area_blueprint
from web.auth import project_for
from web.db import get_session
from web.extensions import htmx

bp = area_blueprint("dedup", __name__, url_prefix="/projects/<int:project_id>/dedup")
FIELDS = (("title", "Title"), ("authors", "Authors"), ("year", "Year"), ("journal", "Journal"),
          ("volume", "Volume"), ("issue", "Issue"), ("pages", "Pages"), ("doi", "DOI"),
          ("abstract", "Abstract"))
_WORD = re.compile(r"\S+")
_FOLD = re.compile(r"[^0-9a-z]+")




# ---------------------------------------------------------------- presentation helpers


@dataclass(frozen=True)
class FieldRow:
    """One field of a pair, side by side: word runs (text, differs) and the field's status."""

    label: str
    a: list[tuple[str, bool]]
    b: list[tuple[str, bool]]
    status: str  # same | differs | missing | empty


def _text(record: Record, name: str) -> str:
    value = getattr(record, name)
    if name == "authors":
        return "; ".join(str(v) for v in value or [])
    return "" if value is None else str(value)


def _fold(word: str) -> str:
    return _FOLD.sub("", word.lower())


def _runs(text: str, other: str, word_level: bool) -> list[tuple[str, bool]]:
    """Words of ``text``; with ``word_level`` each marks whether ``other`` lacks it."""
    if not word_level:
        return [(text, False)] if text else []
    others = {_fold(w) for w in _WORD.findall(other)}
    return [(w, _fold(w) not in others) for w in _WORD.findall(text)]


def compare_fields(a: Record, b: Record) -> list[FieldRow]:
    """The pair's fields with their differences marked (word by word for short texts)."""
    rows = []
    for name, label in FIELDS:
        ta, tb = _text(a, name), _text(b, name)
        if not ta and not tb:
            status = "empty"
        elif not ta or not tb:
            status = "missing"
        else:
            status = "same" if _fold(ta) == _fold(tb) else "differs"
        word_level = status == "differs" and name not in ("abstract",)
        rows.append(FieldRow(label, _runs(ta, tb, word_level), _runs(tb, ta, word_level), status))
    return rows


def _int(name: str, default: int | None = None) -> int | None:
    value = request.values.get(name, "").strip()
    return int(value) if value.isdigit() else default


def _fragment() -> bool:
    return bool(htmx) and not htmx.history_restore_request


def _queue_context(project_id: int, at: int, error: str | None = None) -> dict[str, Any]:
    session = get_session()
    pairs, total = queries.pending_queue(session, project_id=project_id, user_id=current_user.id,
                                         offset=at)
    if not pairs and total and at:
        at = total - 1
        pairs, total = queries.pending_queue(session, project_id=project_id,
                                             user_id=current_user.id, offset=at)
    pair = pairs[0] if pairs else None
    return {
        "pair": pair, "total": total, "at": at, "error": error,
        "fields": compare_fields(pair.a.record, pair.b.record) if pair else [],
        "recent": queries.recent_decisions(session, project_id=project_id),
        "is_lead": role_in(session, project_id=project_id, user_id=current_user.id) == "lead",
    }


def _render_queue(project_id: int, at: int, error: str | None = None,
                  status: int = 200) -> ResponseReturnValue:
    context = _queue_context(project_id, at, error)
    session = get_session()
    counts = queries.dedup_counts(session, project_id=project_id)
    if _fragment():
        # The counters above the panel are refreshed out of band.
        body = (render_template("dedup/_panel.html", **context)
                + render_template("dedup/_counts.html", counts=counts, oob=True))
        return make_response(body, status)
    context.update(project=project_for(project_id), counts=counts,
                   bands=queries.score_bands(session, project_id=project_id),
                   job=queries.latest_job(session, project_id=project_id))
    return make_response(render_template("dedup/queue.html", **context), status)


def _back(url: str) -> ResponseReturnValue:
    return htmx_response(redirect=url) if htmx else redirect(url, 303)


def _safe_next(target: str | None, default: str) -> str:
    if target and target.startswith("/") and not urlsplit(target).netloc and "\\" not in target:
        return target
    return default


# ---------------------------------------------------------------- views


@bp.get("/")
def queue(project_id: int) -> ResponseReturnValue:
    """The review queue: pending pairs strongest first, one at a time (``?at=`` moves)."""
    project_for(project_id, READ)
    return _render_queue(project_id, _int("at", 0) or 0)


@bp.get("/status")
def status(project_id: int) -> ResponseReturnValue:
    """The newest deduplication job's progress (polled while it runs)."""
    project_for(project_id, READ)
    job = queries.latest_job(get_session(), project_id=project_id)
    return render_template("dedup/_status.html", job=job, project_id=project_id)


@bp.post("/pairs/<int:candidate_id>/decide")
def decide(project_id: int, candidate_id: int) -> ResponseReturnValue:
    """Duplicate or not: htmx gets the next pair, plain forms a 303 back to the queue."""
    project_for(project_id, LEAD)
    session, at = get_session(), _int("at", 0) or 0
    choice = request.form.get("decision", "")
    try:
        if choice not in ("duplicate", "distinct"):
            raise ValidationError("choose duplicate or distinct", field="decision")
        service.decide_pair(session, project_id=project_id, candidate_id=candidate_id,
                            lead_id=current_user.id, is_duplicate=choice == "duplicate")
    except (ValidationError, ConflictError) as exc:
        session.rollback()
        return _render_queue(project_id, at, error=str(exc), status=422)
    session.commit()
    if _fragment():
        return _render_queue(project_id, at)
    return redirect(url_for("dedup.queue", project_id=project_id, at=at or None), 303)


@bp.post("/pairs/<int:candidate_id>/undo")
def undo(project_id: int, candidate_id: int) -> ResponseReturnValue:
    """Undo a decision or an automatic merge; the pair's groups are re-formed."""
    project_for(project_id, LEAD)
    session, at = get_session(), _int("at", 0) or 0
    back = _safe_next(request.form.get("next"), url_for("dedup.queue", project_id=project_id))
    try:
        service.undo(session, project_id=project_id, candidate_id=candidate_id,
                     lead_id=current_user.id)
    except ConflictError as exc:
        session.rollback()
        return _render_queue(project_id, at, error=str(exc), status=422)
    session.commit()
    if _fragment() and request.form.get("next") is None:
        return _render_queue(project_id, at)
    pair = session.get(DuplicateCandidate, candidate_id)
    if pair is not None and pair.status == "pending" and same_group(
            session, project_id=project_id, a=pair.record_a_id, b=pair.record_b_id):
        flash(f"Undone, but records {pair.record_a_id} and {pair.record_b_id} are still in one "
              "group through other pairs: undo those too to separate them.", "info")
    else:
        flash("Undone.", "success")
    return _back(back)


@bp.post("/bulk-accept")
def bulk_accept(project_id: int) -> ResponseReturnValue:
    """Confirm every pending pair scoring at least the chosen threshold (percent or 0..1)."""
    project_for(project_id, LEAD)
    session = get_session()
    try:
        threshold = float(request.form.get("min_score", "").strip().rstrip("%"))
    except ValueError:
        return _render_queue(project_id, 0, error="the threshold must be a number", status=422)
    threshold = threshold / 100 if threshold > 1 else threshold
    try:
        accepted = service.bulk_accept(session, project_id=project_id, lead_id=current_user.id,
                                       min_score=threshold)
    except ValidationError as exc:
        session.rollback()
        return _render_queue(project_id, 0, error=exc.message, status=422)
    session.commit()
    flash(f"{accepted} pair(s) scoring at least {threshold:.0%} confirmed as duplicates.",
          "success")
    return _back(url_for("dedup.queue", project_id=project_id))


@bp.post("/run")
def run(project_id: int) -> ResponseReturnValue:
    """Queue a deduplication of the whole project (runs in the background job worker)."""
    project_for(project_id, LEAD)
    session = get_session()
    service.request_run(session, project_id=project_id, lead_id=current_user.id)
    session.commit()
    if current_app.config.get("JOBS_INLINE"):
        run_pending(current_app.extensions["sieve_sessionmaker"])
    flash("Deduplication started; the queue fills as it finishes.", "info")
    return _back(url_for("dedup.queue", project_id=project_id))


@bp.get("/groups")
def groups(project_id: int) -> ResponseReturnValue:
    """Merged groups, largest first, each pair with an undo button (leads)."""
    project = project_for(project_id, READ)
    session, page = get_session(), _int("page", 1) or 1
    views, total = queries.merged_groups(session, project_id=project_id,
                                         user_id=current_user.id, page=page)
    is_lead = role_in(session, project_id=project_id, user_id=current_user.id) == "lead"
    return render_template("dedup/groups.html", project=project, groups=views, total=total,
                           page=page, per_page=50, is_lead=is_lead)


@bp.route("/flag", methods=["GET", "POST"])
def flag(project_id: int) -> ResponseReturnValue:
    """A reviewer flags a possible duplicate: record_id plus other_record_id or a DOI/title."""
    project = project_for(project_id, SCREEN)
    session, record_id = get_session(), _int("record_id")
    other, matches = _flag_target(project_id, record_id)
    error = None
    if request.method == "POST":
        try:
            if record_id is None:
                raise ValidationError("record_id is missing: which record is a duplicate?",
                                      field="record_id")
            if other is None:
                raise ValidationError("choose the record it duplicates" if matches else
                                      "no record matches that DOI or title", field="q")
            cand = service.flag_duplicate(session, project_id=project_id, record_id=record_id,
                                          other_record_id=other, user_id=current_user.id)
        except (ValidationError, ConflictError) as exc:
            session.rollback()
            error = str(exc)
        else:
            session.commit()
            return _flagged(project_id, cand.id)
    record = session.get(Record, record_id) if record_id else None
    context = {"project": project, "record": record if record and record.project_id ==
               project_id else None, "matches": matches, "q": request.values.get("q", ""),
               "error": error, "next": request.values.get("next", "")}
    template = "dedup/_flag.html" if _fragment() else "dedup/flag.html"
    return render_template(template, **context), 422 if error else 200


def _flag_target(project_id: int, record_id: int | None) -> tuple[int | None, list[Record]]:
    """The other record: chosen by id, or the only record matching the DOI/title query."""
    other = _int("other_record_id")
    if other is not None:
        return other, []
    matches = queries.search_records(get_session(), project_id=project_id,
                                     user_id=current_user.id, query=request.values.get("q", ""),
                                     exclude_id=record_id)
    single = matches[0].id if request.method == "POST" and len(matches) == 1 else None
    return single, matches


def _flagged(project_id: int, candidate_id: int) -> ResponseReturnValue:
    if _fragment():
        return render_template("dedup/_flagged.html", candidate_id=candidate_id)
    flash("Flagged as a possible duplicate; a lead will review the pair.", "success")
    return redirect(_safe_next(request.values.get("next"),
                               url_for("dedup.flag", project_id=project_id)), 303)
