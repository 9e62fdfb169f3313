"""Bringing export files into a review: preview, import (all or nothing), batches, sources.

An import is one transaction: the records of a file are stored together or not at all. The
parse itself is done by the pure `importers` package; this module decides what is accepted,
stores the rows in bulk and records the batch, its source and the audit event.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

import importers
from importers.columns import TARGETS
from review import jobs
from review.errors import ConflictError, NotFound, ValidationError
from review.models import SOURCE_KINDS, ImportBatch, Source, User
from review.services import import_io
from review.services.audit import log_event
from review.services.import_io import parse_pieces, parse_rows, row_spec, store_rows
from review.services.projects import READ, SCREEN, require_project

FORMAT_CHOICES = ("auto", *importers.FORMATS)
Progress = Callable[[int, int], None]
PREVIEW_RECORDS = 5
MAX_LISTED_PROBLEMS = 20  # in an error message; the full list stays on the batch
class ImportRejected(ValidationError):
    """A file that cannot be imported as it is; ``problems`` are (file, where, reason)."""

    def __init__(self, message: str, problems: list[tuple[str, str, str]]) -> None:
        super().__init__(message, field="file")
        self.problems = problems


SieveRefusal = ImportRejected | ConflictError


@dataclass
class ImportReport:
    """What came of one imported file."""

    filename: str
    batch_id: int
    source_id: int
    source_name: str
    format: str
    encoding: str | None
    sha256: str
    n_read: int
    n_imported: int
    n_skipped: int
    skipped: list[dict[str, str]] = field(default_factory=list)
    forced: bool = False

    def as_dict(self) -> dict[str, Any]:
        """Plain data (for --json and the web report)."""
        return dict(self.__dict__)


@dataclass
class UploadedFile:
    """One file of a multi-file import, with the format and mapping chosen for it."""

    filename: str
    data: bytes
    format: str = "auto"
    mapping: dict[str, str] | None = None


@dataclass
class Preview:
    """What the web preview shows before anything is stored."""

    filename: str
    sha256: str
    format: str | None
    encoding: str | None
    n_records: int
    records: list[importers.Record]
    columns: list[str]
    mapping: dict[str, str]
    problems: list[importers.Problem]
    error: str | None = None
    targets: tuple[str, ...] = TARGETS
    # A large RIS file is previewed from its first piece: n_records is then an estimate and
    # problems are those of that piece (the import itself checks every record).
    partial: bool = False


def sha256_of(data: bytes) -> str:
    """The hex SHA-256 of a file's bytes (how a re-upload is recognised)."""
    return hashlib.sha256(data).hexdigest()


def preview(
    data: bytes, filename: str, format: str = "auto", mapping: dict[str, str] | None = None,
    *, n: int = PREVIEW_RECORDS,
) -> Preview:
    """Parse a file without storing it: format, encoding, first records, columns, problems.

    Args:
        data: The file's bytes.
        filename: Its name.
        format: "auto" or a name from `importers.FORMATS`.
        mapping: Column -> field for tabular files (None: the guessed mapping).
        n: How many records to show.

    Returns:
        The preview; a file that cannot be read at all has ``error`` set instead of raising.
        A large RIS file is read only in part (``partial``), so memory stays bounded.
    """
    sha = sha256_of(data)
    try:
        result, done = next(parse_pieces(data, filename=filename, format=format,
                                         mapping=mapping))
    except importers.ImportFormatError as exc:
        return Preview(filename, sha, None, None, 0, [], [], {}, [], error=str(exc))
    shown = result.records[:n]
    count = len(result.records) + len(result.problems)
    partial = done < len(data)
    n_records = round(count * len(data) / done) if partial else len(result.records)
    return Preview(filename, sha, result.format, result.encoding, n_records, shown,
                   result.columns, result.mapping, result.problems, partial=partial)


OUTPUT_ENDINGS = {".ris": "ris", ".bib": "bibtex", ".csv": "csv", ".xlsx": "xlsx",
                  ".json": "csljson", ".jsonl": "jsonl"}


def convert(
    data: bytes, *, filename: str, target: str, format: str = "auto"
) -> tuple[bytes, importers.ParseResult]:
    """Convert an export to the format its target name ends with (no project involved).

    Args:
        data: The input file's bytes.
        filename: The input's name.
        target: The output's name: .ris, .bib, .csv, .xlsx, .json (CSL-JSON) or .jsonl.
        format: The input's format, "auto" to sniff it.

    Returns:
        The output bytes and the parse result (its ``problems`` are the skipped records).

    Raises:
        ValidationError: Unknown output ending, or an input that cannot be read.
    """
    ending = "." + target.rsplit(".", 1)[-1].lower() if "." in target else ""
    if ending not in OUTPUT_ENDINGS:
        raise ValidationError(f"{target}: cannot write {ending or 'a file without ending'}; "
                              f"use one of {', '.join(OUTPUT_ENDINGS)}", field="target")
    try:
        result = importers.parse(data, filename=filename, format=format)
    except importers.ImportFormatError as exc:
        raise ValidationError(str(exc), field="source") from exc
    return importers.write(result.records, OUTPUT_ENDINGS[ending]), result


def import_file(
    session: Session, *, project_id: int, user_id: int, source_name: str,
    source_kind: str = "database", filename: str, data: bytes, format: str = "auto",
    mapping: dict[str, str] | None = None, skip_invalid: bool = False, force: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Import one export file into a project as a new batch (leads and reviewers).

    Args:
        session: The database session (flushed, not committed).
        project_id: The review.
        user_id: Who imports; a lead or reviewer of the project.
        source_name: The database, register or other method searched; created on first use.
        source_kind: "database", "register" or "other" (used when the source is created).
        filename: The uploaded file's name.
        data: Its bytes.
        format: "auto" to sniff, or a name from `importers.FORMATS`.
        mapping: Column -> record field for CSV/TSV/XLSX, replacing the guess.
        skip_invalid: Store the readable records and list the others on the batch instead
            of refusing the file.
        force: Import even if the same file (same SHA-256) is already in the project.
        progress: Called with (records stored, records to store) after each chunk.

    Returns:
        The report: records read, imported, skipped with locators and reasons, batch id.

    Raises:
        ImportRejected: The file cannot be read, or has unreadable records and
            ``skip_invalid`` is False; nothing is stored.
        ConflictError: The same file was imported before and ``force`` is False.
        ValidationError: A bad source name or kind.
    """
    require_project(session, project_id=project_id, user_id=user_id, roles=SCREEN)
    sha = sha256_of(data)
    _refuse_reupload(session, project_id, filename, sha, force)
    source = _source(session, project_id, source_name, source_kind)
    batch = ImportBatch(project_id=project_id, source_id=source.id, filename=filename[:500],
                        sha256=sha, format=format, forced=force, user_id=user_id, skipped=[],
                        n_read=0, n_imported=0, n_skipped=0)
    session.add(batch)
    session.flush()
    skipped = _read_and_store(session, batch, data, mapping, skip_invalid, progress)
    if skipped and not skip_invalid:
        raise _rejection(filename, batch.n_read, skipped)
    if batch.n_imported >= import_io.ANALYZE_MIN_RECORDS:
        import_io.analyze_records(session)
    batch.skipped, batch.n_skipped = skipped, len(skipped)
    report = ImportReport(filename, batch.id, source.id, source.name, batch.format,
                          batch.encoding, sha, batch.n_read, batch.n_imported, batch.n_skipped,
                          skipped, force)
    log_event(session, action="import.file", object_type="import_batch", object_id=batch.id,
              project_id=project_id, user_id=user_id,
              after={k: v for k, v in report.as_dict().items() if k != "skipped"})
    _enqueue_followups(session, project_id)
    session.flush()
    return report


def _read_and_store(
    session: Session, batch: ImportBatch, data: bytes, mapping: dict[str, str] | None,
    skip_invalid: bool, progress: Progress | None,
) -> list[dict[str, str]]:
    """Parse the file (large RIS in pieces) and store its records; the skipped ones.

    Once a record is unreadable and ``skip_invalid`` is off, the rest is only read (to list
    every problem) and the caller refuses the file; its rows go with the rollback.
    """
    skipped: list[dict[str, str]] = []
    spec = row_spec(session, batch.project_id, batch.id, nul=b"\x00" in data)
    # closing(): the worker processes parsing ahead are shut down even when storing fails.
    pieces = closing(parse_rows(data, filename=batch.filename, format=batch.format,
                                mapping=mapping, spec=spec, parallel=True))
    try:
        with pieces as results:
            for result, rows, done_bytes in results:
                if batch.n_read == 0:
                    batch.format, batch.encoding = result.format, result.encoding
                    batch.mapping = result.mapping or None
                skipped += [{"locator": p.locator, "reason": p.reason} for p in result.problems]
                batch.n_read += len(rows) + len(result.problems)
                if skipped and not skip_invalid:
                    continue
                # The total is known at the end only: estimate it from the bytes read so far.
                estimate = round((batch.n_imported + len(rows)) * len(data) / done_bytes)
                store_rows(session, rows, progress=progress, offset=batch.n_imported,
                           total=estimate)
                batch.n_imported += len(rows)
                del rows
    except importers.ImportFormatError as exc:
        where = f"line {exc.line}" if exc.line else "file"
        raise ImportRejected(f"{exc}; nothing was imported",
                             [(batch.filename, where, exc.reason)]) from exc
    return skipped


def import_files(
    session: Session, *, project_id: int, user_id: int, source_name: str,
    source_kind: str = "database", files: Sequence[UploadedFile], skip_invalid: bool = False,
    force: bool = False, progress: Callable[[int, int, int], None] | None = None,
) -> list[ImportReport]:
    """Import several files in one transaction: all of them or none.

    Every file is checked, so the error lists the problems of all refused files at once.

    Args:
        session: The database session (flushed, not committed).
        project_id: The review.
        user_id: Who imports (lead or reviewer).
        source_name: The source all files come from.
        source_kind: Its kind when it is created.
        files: The files, each with its format and column mapping.
        skip_invalid: As for `import_file`.
        force: As for `import_file`.
        progress: Called with (file index, records stored, records to store).

    Returns:
        One report per file, in order.

    Raises:
        ImportRejected: One or more files refused (ConflictError when all refusals are
            re-uploads); the caller rolls back.
    """
    reports: list[ImportReport] = []
    refusals: list[SieveRefusal] = []
    for index, upload in enumerate(files):
        def step(done: int, total: int, index: int = index) -> None:
            if progress:
                progress(index, done, total)
        try:
            # A savepoint per file: a refused file's rows go at once, the others stay.
            with session.begin_nested():
                reports.append(import_file(
                    session, project_id=project_id, user_id=user_id, source_name=source_name,
                    source_kind=source_kind, filename=upload.filename, data=upload.data,
                    format=upload.format, mapping=upload.mapping, skip_invalid=skip_invalid,
                    force=force, progress=step))
        except (ImportRejected, ConflictError) as exc:
            refusals.append(exc)
    if refusals:
        _raise_refusals(refusals, len(files))
    return reports


def _raise_refusals(refusals: list[SieveRefusal], n_files: int) -> None:
    message = "\n".join(str(r) for r in refusals)
    if n_files > 1:
        message = (f"{len(refusals)} of {n_files} files refused; nothing was imported.\n"
                   f"{message}")
    if all(isinstance(r, ConflictError) for r in refusals):
        raise ConflictError(message)
    problems = [p for r in refusals if isinstance(r, ImportRejected) for p in r.problems]
    raise ImportRejected(message, problems)


def _rejection(filename: str, n_read: int, skipped: list[dict[str, str]]) -> ImportRejected:
    lines = [f"{filename}, {s['locator']}: {s['reason']}" for s in skipped[:MAX_LISTED_PROBLEMS]]
    more = len(skipped) - len(lines)
    if more > 0:
        lines.append(f"... and {more} more")
    message = (f"{filename}: {len(skipped)} of {n_read} records cannot be read; nothing was "
               "imported. Fix the file, or import the valid records and skip these:\n"
               + "\n".join(lines))
    return ImportRejected(message, [(filename, s["locator"], s["reason"]) for s in skipped])


def _refuse_reupload(
    session: Session, project_id: int, filename: str, sha: str, force: bool
) -> None:
    if force:
        return
    earlier = session.scalar(sa.select(ImportBatch).where(
        ImportBatch.project_id == project_id, ImportBatch.sha256 == sha)
        .order_by(ImportBatch.id).limit(1))
    if earlier is not None:
        when = earlier.created_at.strftime("%Y-%m-%d %H:%M UTC")
        raise ConflictError(
            f"{filename}: this file was already imported as batch {earlier.id} "
            f"({earlier.filename}, {earlier.n_imported} records) on {when}; "
            "force the import to add its records again")


def _source(session: Session, project_id: int, name: str, kind: str) -> Source:
    """The project's source of that name, created with ``kind`` on first use."""
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError("name the source searched (e.g. Scopus, PubMed, Google)",
                              field="source")
    if len(name) > 200:
        raise ValidationError("a source name has at most 200 characters", field="source")
    if kind not in SOURCE_KINDS:
        raise ValidationError(f"source kind must be one of {', '.join(SOURCE_KINDS)}",
                              field="source_kind")
    source = session.scalar(sa.select(Source).where(Source.project_id == project_id,
                                                    Source.name == name))
    if source is None:
        source = Source(project_id=project_id, name=name, kind=kind)
        session.add(source)
        session.flush()
    return source


def _enqueue_followups(session: Session, project_id: int) -> None:
    """New records: find their duplicates, then rank them (both debounced)."""
    jobs.enqueue(session, kind="dedup", project_id=project_id, debounce=True, delay_s=2.0)
    jobs.enqueue(session, kind="retrain", project_id=project_id, debounce=True, delay_s=5.0)


@dataclass
class BatchRow:
    """One line of a project's batch list."""

    batch: ImportBatch
    source: Source
    user_name: str | None


def list_batches(session: Session, *, project_id: int, user_id: int) -> list[BatchRow]:
    """The project's import batches, newest first, with source and who imported."""
    require_project(session, project_id=project_id, user_id=user_id, roles=READ)
    stmt = (sa.select(ImportBatch, Source, User.name)
            .join(Source, Source.id == ImportBatch.source_id)
            .outerjoin(User, User.id == ImportBatch.user_id)
            .where(ImportBatch.project_id == project_id).order_by(ImportBatch.id.desc()))
    return [BatchRow(b, s, n) for b, s, n in session.execute(stmt)]


def get_batch(session: Session, *, project_id: int, user_id: int, batch_id: int) -> BatchRow:
    """One batch of the project (NotFound for another project's batch)."""
    require_project(session, project_id=project_id, user_id=user_id, roles=READ)
    stmt = (sa.select(ImportBatch, Source, User.name)
            .join(Source, Source.id == ImportBatch.source_id)
            .outerjoin(User, User.id == ImportBatch.user_id)
            .where(ImportBatch.project_id == project_id, ImportBatch.id == batch_id))
    found = session.execute(stmt).first()
    if found is None:
        raise NotFound(f"no import batch {batch_id} in this project")
    return BatchRow(*found)


def list_sources(session: Session, *, project_id: int, user_id: int) -> list[Source]:
    """The project's sources by name."""
    require_project(session, project_id=project_id, user_id=user_id, roles=READ)
    return list(session.scalars(sa.select(Source).where(Source.project_id == project_id)
                                .order_by(Source.name)))
