"""Rendering of the screening pages: one URL, two renders (htmx fragment or full page)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import get_flashed_messages, make_response, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user

from review.models import Project, Record
from review.services import screening as service
from review.services.projects import active_reasons
from review.services.screening_pilot import pilot_page
from review.services.screening_rules import FULL_TEXT, STAGE_NAMES
from screening.assignment import Segment, compile_terms, count_hits, highlight
from web.db import get_session, replace_session
from web.extensions import htmx

# The team's counts on the screening page pass over every record of the stage, so they are
# recounted at most this often (seconds); decisions made through this server are added to
# them at once, changes made elsewhere show within this time. The reviewer's own counts are
# always fresh.
TEAM_PROGRESS_MAX_AGE = 10.0


def reading_session() -> None:
    """Render the rest of a POST with a read-only session.

    After the decision is committed (or rolled back) the page is drawn from reads only; on
    SQLite a write session would take the database's write lock again (BEGIN IMMEDIATE) and
    hold it while the next record, the progress and the template are computed.
    """
    replace_session(write=False)


def writing_session() -> None:
    """Go on with a new writing session (after reads done without the write lock)."""
    replace_session(write=True)


def _fragment_wanted() -> bool:
    return bool(htmx) and not htmx.history_restore_request


def _respond(page: str, fragments: list[tuple[str, dict[str, Any]]], context: dict[str, Any],
             status: int) -> ResponseReturnValue:
    if _fragment_wanted():
        body = "".join(render_template(name, **context, **extra) for name, extra in fragments)
    else:
        body = render_template(page, **context)
    response = make_response(body, status)
    response.headers["Vary"] = "HX-Request"
    return response


def marks(project: Project, record: Record | None, stage: str, query: str
          ) -> dict[str, list[Segment] | int]:
    """The record's texts split into plain and highlighted runs (escaped by the template)."""
    if record is None:
        return {}
    groups = {"inc": project.include_terms or [], "exc": project.exclude_terms or []}
    pattern = compile_terms(groups)
    out: dict[str, list[Segment] | int] = {
        "title": highlight(record.title, groups, pattern),
        "abstract": highlight(record.abstract, groups, pattern),
    }
    if stage == FULL_TEXT and record.full_text:
        text_groups = {"hit": [query] if query.strip() else [], **groups}
        segments = highlight(record.full_text, text_groups)
        out["full_text"] = segments
        out["hits"] = count_hits(segments, "hit")
    return out


def render_screen(
    screener: service.Screener, stage: str, *, record_id: int | None = None,
    shown: Record | None = None, query: str = "", error: str | None = None,
    notice: str | None = None, form: Mapping[str, str] | None = None, status: int = 200,
) -> ResponseReturnValue:
    """The screening page, or for htmx the record fragment plus the progress out of band.

    ``shown`` is the record just claimed for the reviewer (after a decision or an undo);
    otherwise ``record_id`` if it is in their queue, else the head of their queue. While a
    pilot round is open, the round's records instead (``record_id`` if still undecided).
    """
    session, uid = get_session(), current_user.id
    if not _fragment_wanted() and screener.project not in session:
        # A whole page after a POST: its project came from the closed write session, and the
        # page's navigation reads more of it (lazily) in this one.
        screener = service.screener(session, project_id=screener.project.id, user_id=uid)
    project = screener.project
    if _fragment_wanted():
        # A fragment has no flash area: say pending messages here so they do not pile up in
        # the session cookie (a plain-form decision followed by an htmx request).
        notice = " ".join([*get_flashed_messages(), *([notice] if notice else [])]) or None
    # The screener has been checked: the queue and progress need not check access again.
    pilot, progress = None, None
    if screener.pilot is not None:  # normal screening waits for the pilot round
        pilot = pilot_page(session, pilot=screener.pilot, reviewer_id=uid, stage=stage,
                           record_id=record_id)
        record = pilot.record
    else:
        record = shown
        if record is None and record_id:
            record = service.queue_head(session, project=project, reviewer_id=uid,
                                        stage=stage, record_id=record_id)
        if record is None:
            record = service.queue_head(session, project=project, reviewer_id=uid,
                                        stage=stage)
        progress = service.progress_for(session, project=project, reviewer_id=uid,
                                        stage=stage, team_max_age=TEAM_PROGRESS_MAX_AGE)
    context = {
        "project": project, "stage": stage, "stage_names": STAGE_NAMES, "record": record,
        "progress": progress, "pilot": pilot,
        "reasons": service.screening_reasons(session, project_id=project.id),
        "role": screener.role,
        "marks": marks(project, record, stage, query), "query": query, "error": error,
        "notice": notice, "form": form or {},
    }
    fragments = [("screening/_record.html", {}), ("screening/_progress.html", {"oob": True})]
    return _respond("screening/page.html", fragments, context, status)


def render_mine(project: Project, stage: str, query: str, page: int, *,
                error: str | None = None, status: int = 200) -> ResponseReturnValue:
    """My decisions, or for htmx (search as you type) just the list."""
    session = get_session()
    result = service.my_decisions(session, project_id=project.id, reviewer_id=current_user.id,
                                  stage=stage, query=query, page=page)
    context = {"project": project, "stage": stage, "stage_names": STAGE_NAMES,
               "result": result, "reasons": active_reasons(session, project_id=project.id),
               "error": error}
    return _respond("screening/mine.html", [("screening/_mine_list.html", {})], context, status)
