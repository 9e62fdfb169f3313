"""Reading large files in pieces and writing records in chunks: an import's bounded memory.

`importers.parse` reads a whole file at once: for a 300 MB export of 100,000 records the
text, the tags and the records together take well over 1 GB. A big UTF-8 RIS file is instead
cut at record starts (``TY  -`` lines) into pieces of a few MB, each parsed with the same
public `importers.parse`, and its line numbers shifted so messages still name the line of
the whole file. Everything else (other formats, small files) is parsed whole.
"""

from __future__ import annotations

import codecs
import multiprocessing as mp
import re
from collections import deque
from collections.abc import Callable, Generator
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

import importers
from importers import ris
from importers.encoding import decode
from review.db import utcnow
from review.models import Record

Progress = Callable[[int, int], None]
CHUNK = 5000  # rows per INSERT executemany: large enough to be fast, small enough for memory

STREAM_BYTES = 32 * 1024 * 1024  # files at least this large are parsed in pieces
PIECE_BYTES = 8 * 1024 * 1024
# With a worker process, this process still parses every LOCAL_EVERY-th piece itself: storing
# a piece (unpickling included) costs about two thirds of parsing and pickling one, so the
# worker alone would leave this process idle part of the time (measured: 3 overloads it).
LOCAL_EVERY = 5
AHEAD = 2  # pieces submitted to the worker at a time (each ~8 MB in, ~3,000 records out)
_RECORD_START = re.compile(rb"(?m)^TY  - ")
_LINE = re.compile(r"\bline (\d+)")


def parse_pieces(
    data: bytes, *, filename: str, format: str = "auto", mapping: dict[str, str] | None = None,
    parallel: bool = False,
) -> Generator[tuple[importers.ParseResult, int], None, None]:
    """Parse a file, in pieces when it is a large RIS file.

    Args:
        data: The file's bytes.
        filename: Its name.
        format: As for `importers.parse`.
        mapping: As for `importers.parse` (a mapping means a table: parsed whole).
        parallel: Parse pieces ahead in a worker process while the caller handles this one
            (the import stores it); this process parses every `LOCAL_EVERY`-th piece.
            Only a file cut in pieces (`STREAM_BYTES` or more) starts a worker; it is shut
            down when the generator finishes or is closed.

    Yields:
        (parse result with file-wide line numbers, bytes of the file read so far).

    Raises:
        importers.ImportFormatError: As `importers.parse` does for the whole file.
    """
    cuts = _cuts(data) if (len(data) >= STREAM_BYTES and format in ("auto", "ris")
                           and not mapping) else None
    if not cuts:
        yield importers.parse(data, filename=filename, format=format, mapping=mapping), len(data)
        return
    ends = [start for start, _ in cuts[1:]] + [len(data)]
    pool = _worker() if parallel else None
    ahead: deque[tuple[int, Future[importers.ParseResult]]] = deque()
    remote = iter(i for i in range(1, len(cuts)) if pool and i % LOCAL_EVERY)

    def piece(i: int) -> tuple[bytes, str, str, int]:
        return data[cuts[i][0]:ends[i]], filename, format if i == 0 else "ris", cuts[i][1]

    def top_up() -> None:
        # Keep the worker AHEAD pieces busy, so it never waits while this process works.
        while pool and len(ahead) < AHEAD and (i := next(remote, None)) is not None:
            ahead.append((i, pool.submit(_parse_piece, *piece(i))))

    try:
        top_up()
        first: importers.ParseResult | None
        try:
            first = _parse_piece(*piece(0))
        except importers.ImportFormatError:
            first = None  # e.g. no usable record in this piece: the whole file decides
        if first is None or first.format != "ris":
            # Not RIS after all (the content decides): read the file whole.
            yield importers.parse(data, filename=filename, format=format), len(data)
            return
        yield first, ends[0]
        del first
        for i in range(1, len(cuts)):
            if ahead and ahead[0][0] == i:
                result = ahead.popleft()[1].result()
                top_up()
            else:
                result = _parse_piece(*piece(i))
            yield result, ends[i]
            del result  # let the caller's stored records go before the next piece arrives
    finally:
        if pool:
            pool.shutdown(wait=True, cancel_futures=True)


def _worker() -> ProcessPoolExecutor:
    # spawn, not fork: the web server runs imports in threads, and forking a threaded
    # process can copy a lock held by another thread. One worker: the machine's other core.
    return ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn"))


def _parse_piece(piece: bytes, filename: str, format: str, first_line: int
                 ) -> importers.ParseResult:
    """Parse one piece, its line numbers (records and problems) made those of the file.

    The first piece goes through `importers.parse` (sniffing, BOM, format checks). A later
    piece is RIS text by construction (cut at ``TY  -``, UTF-8 checked): it is read with the
    RIS reader directly, so a piece of only unusable records lists them as problems, as the
    whole file's parse would, instead of failing as a file without records.
    """
    if first_line == 1:
        return importers.parse(piece, filename=filename, format=format)
    text, encoding = decode(piece)
    records, problems = ris.parse_text(text)
    for record in records:
        record.locator = _shift(record.locator, first_line)
    for problem in problems:
        problem.locator = _shift(problem.locator, first_line) or problem.locator
    return importers.ParseResult(format="ris", encoding=encoding, records=records,
                                 problems=problems)


def _shift(text: str | None, first_line: int) -> str | None:
    """Line numbers of a piece made line numbers of the file."""
    if not text:
        return text
    return _LINE.sub(lambda m: f"line {int(m.group(1)) + first_line - 1}", text)


def _cuts(data: bytes) -> list[tuple[int, int]] | None:
    """(byte offset, first line number) of each piece, or None to parse the file whole."""
    if not _is_utf8(data):
        return None  # one encoding guess must hold for the whole file
    cuts = [(0, 1)]
    last, line = 0, 1
    while True:
        found = _RECORD_START.search(data, last + PIECE_BYTES)
        if found is None:
            break
        start = found.start()
        # Line breaks as the decoder counts them: \r\n, \n and a lone \r each end a line.
        line += (data.count(b"\n", last, start) + data.count(b"\r", last, start)
                 - data.count(b"\r\n", last, start))
        cuts.append((start, line))
        last = start
    return cuts if len(cuts) > 1 else None


def _is_utf8(data: bytes) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    step = 16 * 1024 * 1024
    try:
        for offset in range(0, len(data), step):
            decoder.decode(data[offset:offset + step])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


# Record fields copied from the importers' Record to the table of the same name.
_FIELDS = ("title", "abstract", "authors", "year", "journal", "volume", "issue", "pages",
           "doi", "pmid", "issn", "isbn", "url", "keywords", "language", "publication_type",
           "publisher")
# Column lengths, so an over-long value (a 300-character "volume") never fails on PostgreSQL;
# the full value stays in ``raw``.
_LIMITS = {c.name: c.type.length for c in Record.__table__.columns
           if isinstance(c.type, sa.String) and not isinstance(c.type, sa.Text)
           and c.type.length}


_RECORDS: sa.Table = Record.__table__  # type: ignore[assignment]


def store_records(
    session: Session, project_id: int, batch_id: int, records: list[importers.Record], *,
    nul: bool, progress: Progress | None, offset: int = 0, total: int | None = None,
) -> None:
    """Insert the rows in chunks, releasing each chunk's parsed records as it goes."""
    count = len(records)
    total = max(total or 0, offset + count)
    now = utcnow()
    for start in range(0, count, CHUNK):
        end = min(start + CHUNK, count)
        rows = [_row(records[i], project_id, batch_id, now, nul) for i in range(start, end)]
        # Core executemany: the ORM's bulk path regroups rows and costs ~2.5x the CPU here.
        session.execute(_RECORDS.insert(), rows)
        for i in range(start, end):
            records[i] = None  # type: ignore[call-overload]  # free memory as rows are stored
        if progress:
            progress(offset + end, total)


def _row(
    rec: importers.Record, project_id: int, batch_id: int, now: datetime, nul: bool
) -> dict[str, Any]:
    row: dict[str, Any] = {name: getattr(rec, name) for name in _FIELDS}
    row["authors"], row["keywords"] = rec.authors, rec.keywords
    row.update(project_id=project_id, batch_id=batch_id, source_record_id=rec.source_id,
               raw=rec.raw, locator=rec.locator, created_at=now)
    if nul:
        # PostgreSQL refuses NUL characters in text and JSON; they carry nothing anyway.
        row = {k: _strip_nul(v) for k, v in row.items()}
    for name, limit in _LIMITS.items():
        value = row.get(name)
        if isinstance(value, str) and len(value) > limit:
            row[name] = value[:limit]
    return row


def _strip_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_strip_nul(v) for v in value]
    if isinstance(value, dict):
        return {_strip_nul(k): _strip_nul(v) for k, v in value.items()}
    return value
