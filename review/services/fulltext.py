"""Full texts: PDFs attached to records, their text extracted for full-text screening.

PDFs are kept on disk by content (``<pdf_dir>/<sha256>.pdf``) so the same file is stored
once; the record holds the SHA-256, the uploaded name and the extracted text.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import sqlalchemy as sa
from sqlalchemy.orm import Session

from importers.errors import PdfError
from importers.pdf import PdfText, extract
from importers.pdfmatch import match_pdfs
from review.errors import NotFound, ValidationError
from review.models import Record
from review.services.audit import log_event
from review.services.projects import READ, SCREEN, require_project

MAX_ZIP_MEMBER = 200 * 1024 * 1024  # bytes; larger members are refused, not unpacked
MAX_ZIP_MEMBERS = 5000


@dataclass
class AttachOutcome:
    """What happened to one PDF: attached (how), unmatched, or refused with a reason."""

    filename: str
    sha256: str | None
    record_id: int | None
    method: str  # "doi", "title", "manual", "none" (unmatched) or "error"
    score: float = 0.0
    message: str | None = None
    record_title: str | None = None


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pdf_path(pdf_dir: Path, sha256: str) -> Path:
    """Where a PDF with this SHA-256 is kept."""
    if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
        raise ValidationError("not a PDF checksum", field="sha256")
    return pdf_dir / f"{sha256}.pdf"


def _keep(pdf_dir: Path, sha: str, data: bytes) -> None:
    """Write the PDF once; a temporary name then rename, so readers never see half a file."""
    target = pdf_path(pdf_dir, sha)
    if target.exists():
        return
    pdf_dir.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(target)


def _record(session: Session, project_id: int, record_id: int) -> Record:
    record = session.get(Record, record_id)
    if record is None or record.project_id != project_id:
        raise NotFound(f"no record {record_id} in this project")
    return record


def _set_pdf(
    session: Session, record: Record, *, user_id: int, sha: str, filename: str, text: PdfText,
    method: str,
) -> None:
    before = {"pdf_sha256": record.pdf_sha256, "pdf_filename": record.pdf_filename}
    record.full_text = text.text.replace("\x00", "")
    record.pdf_sha256, record.pdf_filename = sha, filename[:500]
    log_event(session, action="record.pdf", object_type="record", object_id=record.id,
              project_id=record.project_id, user_id=user_id, before=before,
              after={"pdf_sha256": sha, "pdf_filename": filename, "method": method,
                     "pages": text.pages})


def attach_pdf(
    session: Session, *, project_id: int, user_id: int, record_id: int, filename: str,
    data: bytes, pdf_dir: Path,
) -> AttachOutcome:
    """Attach one PDF to a chosen record (leads and reviewers), replacing any earlier one.

    Raises:
        ValidationError: The PDF is encrypted, corrupt or has no text layer (the message
            says which); nothing changes.
        NotFound: No such record in the project.
    """
    require_project(session, project_id=project_id, user_id=user_id, roles=SCREEN)
    record = _record(session, project_id, record_id)
    try:
        text = extract(data, filename=filename)
    except PdfError as exc:
        raise ValidationError(str(exc), field="pdf") from exc
    sha = _sha(data)
    _keep(pdf_dir, sha, data)
    _set_pdf(session, record, user_id=user_id, sha=sha, filename=filename, text=text,
             method="manual")
    session.flush()
    return AttachOutcome(filename, sha, record.id, "manual", 100.0, None, record.title)


def attach_stored_pdf(
    session: Session, *, project_id: int, user_id: int, record_id: int, sha256: str,
    filename: str, pdf_dir: Path,
) -> AttachOutcome:
    """Attach a PDF kept from an earlier bulk upload (manual matching of an unmatched one)."""
    path = pdf_path(pdf_dir, sha256)
    if not path.exists():
        raise NotFound("that PDF is no longer stored; upload it again")
    return attach_pdf(session, project_id=project_id, user_id=user_id, record_id=record_id,
                      filename=filename, data=path.read_bytes(), pdf_dir=pdf_dir)


def attach_pdfs(
    session: Session, *, project_id: int, user_id: int, files: list[tuple[str, bytes]],
    pdf_dir: Path,
) -> list[AttachOutcome]:
    """Attach many PDFs (files or ZIP archives of them), each matched to its record.

    A PDF is matched by a DOI in its metadata or text, else by title similarity; unmatched
    PDFs are kept on disk and returned with method "none" for manual matching, and
    unreadable ones with method "error" and the reason. Only records that are not
    duplicates of another are candidates.

    Args:
        session: The database session (flushed, not committed).
        project_id: The review.
        user_id: A lead or reviewer.
        files: (file name, bytes) of PDFs or ZIP archives.
        pdf_dir: The folder PDFs are kept in.

    Returns:
        One outcome per PDF found, in upload order.
    """
    require_project(session, project_id=project_id, user_id=user_id, roles=SCREEN)
    outcomes: list[AttachOutcome] = []
    readable: list[tuple[str, str, bytes, PdfText]] = []
    for name, data in _expand(files, outcomes):
        try:
            readable.append((name, _sha(data), data, extract(data, filename=name)))
        except PdfError as exc:
            outcomes.append(AttachOutcome(name, None, None, "error", message=str(exc)))
    candidates = session.execute(sa.select(Record.id, Record.doi, Record.title).where(
        Record.project_id == project_id, Record.canonical_id.is_(None))).all()
    matches = match_pdfs([(name, text) for name, _, _, text in readable],
                         [(rid, doi, title) for rid, doi, title in candidates])
    for (name, sha, data, text), match in zip(readable, matches, strict=True):
        _keep(pdf_dir, sha, data)
        if match.record_id is None:
            outcomes.append(AttachOutcome(name, sha, None, "none",
                                          message="no record with this DOI or title"))
            continue
        record = _record(session, project_id, match.record_id)
        _set_pdf(session, record, user_id=user_id, sha=sha, filename=name, text=text,
                 method=match.method)
        outcomes.append(AttachOutcome(name, sha, record.id, match.method, match.score, None,
                                      record.title))
    session.flush()
    return outcomes


def _expand(
    files: list[tuple[str, bytes]], outcomes: list[AttachOutcome]
) -> list[tuple[str, bytes]]:
    """PDFs from the uploads, ZIP archives unpacked; other files become error outcomes."""
    out: list[tuple[str, bytes]] = []
    for name, data in files:
        if data[:4] == b"PK\x03\x04":
            out.extend(_unzip(name, data, outcomes))
        else:
            out.append((name, data))
    return out


def _unzip(
    name: str, data: bytes, outcomes: list[AttachOutcome]
) -> list[tuple[str, bytes]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [m for m in archive.infolist() if not m.is_dir()
                   and not m.filename.startswith("__MACOSX/")
                   and not PurePosixPath(m.filename).name.startswith(".")]
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        outcomes.append(AttachOutcome(name, None, None, "error",
                                      message=f"{name}: corrupt ZIP archive ({exc})"))
        return []
    out: list[tuple[str, bytes]] = []
    for member in members[:MAX_ZIP_MEMBERS]:
        label = f"{name}/{member.filename}"
        if not member.filename.lower().endswith(".pdf"):
            outcomes.append(AttachOutcome(label, None, None, "error",
                                          message=f"{label}: not a PDF, skipped"))
        elif member.file_size > MAX_ZIP_MEMBER:
            outcomes.append(AttachOutcome(label, None, None, "error",
                                          message=f"{label}: larger than 200 MB, skipped"))
        else:
            try:
                out.append((PurePosixPath(member.filename).name, archive.read(member)))
            except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
                outcomes.append(AttachOutcome(label, None, None, "error",
                                              message=f"{label}: cannot unpack ({exc})"))
    return out


def record_pdf(
    session: Session, *, project_id: int, user_id: int, record_id: int, pdf_dir: Path
) -> tuple[Path, str]:
    """The stored PDF of a record and its file name, for members of the project."""
    require_project(session, project_id=project_id, user_id=user_id, roles=READ)
    record = _record(session, project_id, record_id)
    if not record.pdf_sha256:
        raise NotFound("this record has no PDF")
    path = pdf_path(pdf_dir, record.pdf_sha256)
    if not path.exists():
        raise NotFound("the PDF file is missing from the server's storage")
    return path, record.pdf_filename or f"{record.pdf_sha256}.pdf"


def get_record(session: Session, *, project_id: int, user_id: int, record_id: int) -> Record:
    """One record of the project, for members (its full-text page)."""
    require_project(session, project_id=project_id, user_id=user_id, roles=READ)
    return _record(session, project_id, record_id)


def search_records(
    session: Session, *, project_id: int, user_id: int, query: str, limit: int = 20
) -> list[Record]:
    """Records whose title contains the words of ``query`` (to match a PDF by hand)."""
    require_project(session, project_id=project_id, user_id=user_id, roles=READ)
    stmt = sa.select(Record).where(Record.project_id == project_id,
                                   Record.canonical_id.is_(None))
    words = query.split()[:8]
    if query.strip().isdigit():
        stmt = stmt.where(Record.id == int(query))
    else:
        for word in words:
            escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            stmt = stmt.where(Record.title.ilike(f"%{escaped}%", escape="\\"))
    return list(session.scalars(stmt.order_by(Record.id).limit(limit)))
