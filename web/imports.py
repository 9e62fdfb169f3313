"""Import pages: upload, preview and column mapping, import with progress, batches, full texts.

Uploaded files wait between the upload and the import under ``instance/uploads/<sha256>``;
a small JSON manifest per upload (``instance/uploads/staged/<token>.json``) keeps the source,
the per-file format and mapping, and the preview, so nothing large goes in the cookie.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from pathlib import Path
from typing import Any

from flask import (
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_htmx import make_response
from flask_login import current_user
from werkzeug.datastructures import FileStorage

from review.errors import ConflictError, ValidationError
from review.models import SOURCE_KINDS
from review.services import fulltext
from review.services import imports as service
from review.services.projects import READ, SCREEN, role_in
from web.areas import area_blueprint
from web.auth import project_for
from web.db import get_session
from web.extensions import htmx

bp = area_blueprint("imports", __name__, url_prefix="/projects/<int:project_id>/imports")
_TOKEN = re.compile(r"[0-9a-f]{32}")
_STALE_S = 3 * 24 * 3600  # staged uploads older than this are cleared on the next upload




def _uploads() -> Path:
    return Path(current_app.instance_path) / "uploads"


def _pdf_dir() -> Path:
    return Path(current_app.instance_path) / "pdfs"


def _redirect(url: str) -> ResponseReturnValue:
    return make_response(redirect=url) if htmx else redirect(url, 303)


def _load(kind: str, project_id: int, token: str) -> dict[str, Any]:
    """A staged manifest of this project, else 404."""
    if not _TOKEN.fullmatch(token):
        abort(404)
    try:
        manifest: dict[str, Any] = json.loads((_uploads() / kind / f"{token}.json").read_text())
    except (OSError, ValueError):
        abort(404)
    if manifest.get("project_id") != project_id:
        abort(404)
    return manifest


def _save(kind: str, token: str, manifest: dict[str, Any]) -> None:
    folder = _uploads() / kind
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"{token}.tmp"
    tmp.write_text(json.dumps(manifest))
    tmp.replace(folder / f"{token}.json")


def _clear_stale() -> None:
    cutoff = time.time() - _STALE_S
    for path in _uploads().glob("*"):
        if path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)


@bp.get("/")
def index(project_id: int) -> ResponseReturnValue:
    """The upload form and the project's import batches."""
    return _index_page(project_for(project_id).id, None)


def _index_page(project_id: int, error: str | None) -> ResponseReturnValue:
    session = get_session()
    context = {
        "project": project_for(project_id), "error": error, "form": request.form,
        "batches": service.list_batches(session, project_id=project_id, user_id=current_user.id),
        "sources": service.list_sources(session, project_id=project_id, user_id=current_user.id),
        "role": role_in(session, project_id=project_id, user_id=current_user.id),
        "kinds": SOURCE_KINDS,
    }
    return render_template("imports/index.html", **context), 422 if error else 200


@bp.post("/upload")
def upload(project_id: int) -> ResponseReturnValue:
    """Keep the uploaded files, preview them, and show the preview and mapping step."""
    project_for(project_id, SCREEN)
    files = [f for f in request.files.getlist("files") if f.filename]
    source = " ".join(request.form.get("source", "").split())
    kind = request.form.get("source_kind", "database")
    if not files or not source or kind not in SOURCE_KINDS:
        return _index_page(project_id, "Choose at least one file and name its source (a "
                                       "database, register or other method)." if files or
                           source else "Choose at least one file to import.")
    token = _stage(project_id, source, kind, files)
    return _redirect(url_for(".staged", project_id=project_id, token=token))


def _stage(project_id: int, source: str, kind: str, files: list[FileStorage]) -> str:
    uploads = _uploads()
    uploads.mkdir(parents=True, exist_ok=True)
    _clear_stale()
    entries = []
    for storage in files:
        data = storage.read()
        sha = service.sha256_of(data)
        (uploads / sha).write_bytes(data)
        entry = {"sha": sha, "filename": Path(storage.filename or "upload").name,
                 "format": "auto", "mapping": None}
        entries.append(_with_preview(entry, data))
    token = secrets.token_hex(16)
    _save("staged", token, {"project_id": project_id, "user_id": current_user.id,
                            "source": source, "kind": kind, "files": entries, "batches": []})
    return token


def _with_preview(entry: dict[str, Any], data: bytes) -> dict[str, Any]:
    """The entry with its preview summary (plain data, kept in the manifest)."""
    p = service.preview(data, entry["filename"], entry["format"], entry["mapping"])
    entry["preview"] = {
        "format": p.format, "encoding": p.encoding, "n_records": p.n_records,
        "error": p.error, "columns": p.columns, "mapping": p.mapping,
        "problems": [[q.locator, q.reason] for q in p.problems[:50]],
        "n_problems": len(p.problems), "partial": p.partial,
        "records": [{"title": r.title, "authors": r.authors[:3], "more": len(r.authors) > 3,
                     "year": r.year, "journal": r.journal, "doi": r.doi, "locator": r.locator,
                     "abstract": (r.abstract or "")[:300]} for r in p.records],
    }
    return entry


@bp.route("/staged/<token>", methods=["GET", "POST"])
def staged(project_id: int, token: str) -> ResponseReturnValue:
    """Preview and column mapping; "Update preview" re-reads, "Import" stores all files."""
    project = project_for(project_id, SCREEN)
    manifest = _load("staged", project_id, token)
    error = None
    if request.method == "POST":
        _apply_choices(manifest, request.form)
        _save("staged", token, manifest)
        if request.form.get("action") != "import":
            return _redirect(url_for(".staged", project_id=project_id, token=token))
        error = _run(project_id, token, manifest)
        if error is None:
            return _redirect(url_for(".report", project_id=project_id, token=token))
    return render_template("imports/staged.html", project=project, manifest=manifest,
                           token=token, error=error, targets=service.TARGETS,
                           formats=service.FORMAT_CHOICES), 422 if error else 200


def _apply_choices(manifest: dict[str, Any], form: Any) -> None:
    """Take the format and column mapping chosen per file; re-preview what changed."""
    for i, entry in enumerate(manifest["files"]):
        fmt = form.get(f"format-{i}", entry["format"])
        fmt = fmt if fmt in service.FORMAT_CHOICES else "auto"
        mapping = entry["mapping"]
        columns = entry["preview"]["columns"]
        if fmt != entry["format"]:
            mapping = None  # a new format: columns (if any) are guessed afresh
        elif columns and f"map-{i}-0" in form:
            chosen = {c: form.get(f"map-{i}-{j}", "") for j, c in enumerate(columns)}
            used = entry["preview"]["mapping"]
            if {c: t for c, t in chosen.items() if t} != {c: t for c, t in used.items() if t}:
                mapping = chosen
        if (fmt, mapping) != (entry["format"], entry["mapping"]):
            entry["format"], entry["mapping"] = fmt, mapping
            path = _uploads() / entry["sha"]
            if path.exists():
                _with_preview(entry, path.read_bytes())


def _run(project_id: int, token: str, manifest: dict[str, Any]) -> str | None:
    """Import the staged files in one transaction; the error message, or None."""
    progress_path = _uploads() / "staged" / f"{token}.progress"
    files = []
    for entry in manifest["files"]:
        path = _uploads() / entry["sha"]
        if not path.exists():
            return f"{entry['filename']}: the uploaded file is gone; upload it again"
        files.append(service.UploadedFile(entry["filename"], path.read_bytes(), entry["format"],
                                          entry["mapping"]))

    def progress(index: int, done: int, total: int) -> None:
        progress_path.write_text(json.dumps({"file": index + 1, "files": len(files),
                                             "done": done, "total": total}))

    session = get_session()
    try:
        reports = service.import_files(
            session, project_id=project_id, user_id=current_user.id,
            source_name=manifest["source"], source_kind=manifest["kind"], files=files,
            skip_invalid=bool(request.form.get("skip_invalid")),
            force=bool(request.form.get("force")), progress=progress)
    except (ValidationError, ConflictError) as exc:
        session.rollback()
        return str(exc)
    finally:
        progress_path.unlink(missing_ok=True)
    session.commit()
    manifest["batches"] = [r.batch_id for r in reports]
    _save("staged", token, manifest)
    return None


@bp.get("/staged/<token>/progress")
def progress(project_id: int, token: str) -> ResponseReturnValue:
    """How far the running import is (polled by the progress bar)."""
    project_for(project_id, SCREEN)
    _load("staged", project_id, token)
    try:
        state = json.loads((_uploads() / "staged" / f"{token}.progress").read_text())
    except (OSError, ValueError):
        state = {"file": 0, "files": 0, "done": 0, "total": 0}
    return jsonify(state)


@bp.get("/staged/<token>/report")
def report(project_id: int, token: str) -> ResponseReturnValue:
    """What the import stored and skipped, per file."""
    project = project_for(project_id, SCREEN)
    manifest = _load("staged", project_id, token)
    session = get_session()
    rows = [service.get_batch(session, project_id=project_id, user_id=current_user.id,
                              batch_id=batch_id) for batch_id in manifest["batches"]]
    return render_template("imports/report.html", project=project, rows=rows)


@bp.get("/batches/<int:batch_id>")
def batch(project_id: int, batch_id: int) -> ResponseReturnValue:
    """One import batch: counts, mapping and skipped records."""
    project = project_for(project_id)
    row = service.get_batch(get_session(), project_id=project_id, user_id=current_user.id,
                            batch_id=batch_id)
    return render_template("imports/report.html", project=project, rows=[row])


@bp.route("/fulltexts", methods=["GET", "POST"])
def fulltexts(project_id: int) -> ResponseReturnValue:
    """Upload PDFs (or zips of them) to be matched to records by DOI or title."""
    project = project_for(project_id, SCREEN)
    if request.method == "GET":
        return render_template("imports/fulltexts.html", project=project, outcomes=None)
    files = [(Path(f.filename or "upload.pdf").name, f.read())
             for f in request.files.getlist("files") if f.filename]
    if not files:
        return render_template("imports/fulltexts.html", project=project, outcomes=None,
                               error="Choose PDF files or a ZIP archive of PDFs."), 422
    session = get_session()
    outcomes = fulltext.attach_pdfs(session, project_id=project_id, user_id=current_user.id,
                                    files=files, pdf_dir=_pdf_dir())
    session.commit()
    token = secrets.token_hex(16)
    _save("pdfs", token, {"project_id": project_id, "outcomes": [o.__dict__ for o in outcomes]})
    return _redirect(url_for(".pdf_results", project_id=project_id, token=token))


@bp.route("/fulltexts/<token>", methods=["GET", "POST"])
def pdf_results(project_id: int, token: str) -> ResponseReturnValue:
    """Outcomes of a bulk upload; unmatched PDFs are matched here by picking a record."""
    project = project_for(project_id, SCREEN)
    manifest = _load("pdfs", project_id, token)
    if request.method == "POST":
        return _match_by_hand(project_id, token, manifest)
    query, pick = request.args.get("q", ""), request.args.get("pick", "")
    found = (fulltext.search_records(get_session(), project_id=project_id,
                                     user_id=current_user.id, query=query) if query else [])
    context = {"project": project, "outcomes": manifest["outcomes"], "token": token,
               "query": query, "pick": pick, "found": found}
    if htmx and not htmx.history_restore_request:
        return render_template("imports/_candidates.html", **context)
    return render_template("imports/fulltexts.html", **context)


def _match_by_hand(project_id: int, token: str, manifest: dict[str, Any]) -> ResponseReturnValue:
    sha, record_id = request.form.get("sha", ""), request.form.get("record_id", "")
    outcome = next((o for o in manifest["outcomes"] if o["sha256"] == sha
                    and o["record_id"] is None and o["method"] == "none"), None)
    if outcome is None or not record_id.isdigit():
        abort(400, "pick an unmatched PDF and a record")
    session = get_session()
    done = fulltext.attach_stored_pdf(session, project_id=project_id, user_id=current_user.id,
                                      record_id=int(record_id), sha256=sha,
                                      filename=outcome["filename"], pdf_dir=_pdf_dir())
    session.commit()
    outcome.update(record_id=done.record_id, method="manual", record_title=done.record_title,
                   message=None)
    _save("pdfs", token, manifest)
    return _redirect(url_for(".pdf_results", project_id=project_id, token=token))


@bp.get("/records/<int:record_id>/fulltext")
def record_fulltext(project_id: int, record_id: int) -> ResponseReturnValue:
    """One record's full text: its PDF, and a form to attach one."""
    return _record_page(project_for(project_id).id, record_id, None)


def _record_page(project_id: int, record_id: int, error: str | None) -> ResponseReturnValue:
    session = get_session()
    record = fulltext.get_record(session, project_id=project_id, user_id=current_user.id,
                                 record_id=record_id)
    return render_template("imports/record.html", project=project_for(project_id),
                           record=record, error=error,
                           role=role_in(session, project_id=project_id,
                                        user_id=current_user.id)), 422 if error else 200


@bp.route("/records/<int:record_id>/pdf", methods=["GET", "POST"])
def record_pdf(project_id: int, record_id: int) -> ResponseReturnValue:
    """GET serves the record's PDF to members; POST attaches an uploaded PDF."""
    project_for(project_id, SCREEN if request.method == "POST" else READ)
    session = get_session()
    if request.method == "GET":
        path, name = fulltext.record_pdf(session, project_id=project_id,
                                         user_id=current_user.id, record_id=record_id,
                                         pdf_dir=_pdf_dir())
        return send_file(path, mimetype="application/pdf", download_name=name)
    upload = request.files.get("pdf")
    try:
        if upload is None or not upload.filename:
            raise ValidationError("choose a PDF file", field="pdf")
        fulltext.attach_pdf(session, project_id=project_id, user_id=current_user.id,
                            record_id=record_id, filename=Path(upload.filename).name,
                            data=upload.read(), pdf_dir=_pdf_dir())
    except ValidationError as exc:
        session.rollback()
        return _record_page(project_id, record_id, exc.message)
    session.commit()
    return _redirect(url_for(".record_fulltext", project_id=project_id, record_id=record_id))
