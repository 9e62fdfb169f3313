"""Reading large files in pieces and storing rows in bulk: an import's speed and bounded memory.

`importers.parse` reads a whole file at once: for a 300 MB export of 100,000 records the
text, the tags and the records together take well over 1 GB. A big UTF-8 RIS file is instead
cut at record starts (`importers.pieces`) into pieces of a few MB. For an import, worker
processes parse the pieces ahead and hand back rows ready to store (`importers.rows`: the
JSON columns already encoded), and this process only passes them to the database driver in
large batches, inside the caller's transaction: SQLite through the driver's ``executemany``,
PostgreSQL through ``COPY``. Everything else (other formats, small files) is parsed whole.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections import deque
from collections.abc import Callable, Generator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import closing
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

import importers
from importers import pieces
from importers.rows import ROW_FIELDS, RowSpec, to_rows
from review.db import utcnow
from review.models import Record

Progress = Callable[[int, int], None]
Row = tuple[Any, ...]
CHUNK = 5000  # rows per executemany / COPY between two progress reports

STREAM_BYTES = 32 * 1024 * 1024  # files at least this large are parsed in pieces
PIECE_BYTES = 8 * 1024 * 1024
# Parsing a piece costs about three times storing its rows: this process stores while up to
# MAX_WORKERS processes parse (one per core: 2 on the 2-core machine the figures are from).
MAX_WORKERS = 3
AHEAD = 2  # pieces submitted per worker at a time (each ~8 MB in, ~3,000 rows out)
# After storing this many records, PostgreSQL's planner statistics are refreshed (ANALYZE):
# a plan made for an empty table can take minutes over 100,000 records.
ANALYZE_MIN_RECORDS = 5000


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
        parallel: Parse the pieces after the first in worker processes, ahead of the caller.
            Only a file cut in pieces (`STREAM_BYTES` or more) starts workers; they are shut
            down when the generator finishes or is closed.

    Yields:
        (parse result with file-wide line numbers, bytes of the file read so far).

    Raises:
        importers.ImportFormatError: As `importers.parse` does for the whole file.
    """
    with closing(_read(data, filename, format, mapping, None, parallel)) as results:
        for result, _, done in results:
            yield result, done


def parse_rows(
    data: bytes, *, filename: str, spec: RowSpec, format: str = "auto",
    mapping: dict[str, str] | None = None, parallel: bool = True,
) -> Generator[tuple[importers.ParseResult, list[Row], int], None, None]:
    """Parse a file into rows to store, a large RIS file in pieces (parallel by default).

    Args:
        data: The file's bytes.
        filename: Its name.
        spec: How records become rows (see `row_spec`).
        format: As for `importers.parse`.
        mapping: As for `importers.parse`.
        parallel: As for `parse_pieces`.

    Yields:
        (parse result without its records, the records as rows, bytes read so far).

    Raises:
        importers.ImportFormatError: As `importers.parse` does for the whole file.
    """
    with closing(_read(data, filename, format, mapping, spec, parallel)) as results:
        for result, rows, done in results:
            yield result, rows or [], done


Piece = tuple[importers.ParseResult, list[Row] | None]


def _read(
    data: bytes, filename: str, format: str, mapping: dict[str, str] | None,
    spec: RowSpec | None, parallel: bool,
) -> Generator[tuple[importers.ParseResult, list[Row] | None, int], None, None]:
    cuts = pieces.cuts(data, PIECE_BYTES) if (
        len(data) >= STREAM_BYTES and format in ("auto", "ris") and not mapping) else None
    if not cuts:
        yield (*_whole(data, filename, format, mapping, spec), len(data))
        return
    ends = [start for start, _ in cuts[1:]] + [len(data)]
    pool, n_workers = _workers() if parallel else (None, 0)
    ahead: deque[tuple[int, Future[Piece]]] = deque()
    later = iter(range(1, len(cuts)))

    def piece(i: int) -> tuple[bytes, str, str, int, RowSpec | None]:
        return data[cuts[i][0]:ends[i]], filename, format if i == 0 else "ris", cuts[i][1], spec

    def top_up() -> None:
        # Keep every worker AHEAD pieces busy, so none waits while this process stores.
        while pool and len(ahead) < AHEAD * n_workers and (
                i := next(later, None)) is not None:
            ahead.append((i, pool.submit(pieces.parse_piece_rows, *piece(i))))

    try:
        top_up()
        first: Piece | None
        try:
            first = pieces.parse_piece_rows(*piece(0))
        except importers.ImportFormatError:
            first = None  # e.g. no usable record in this piece: the whole file decides
        if first is None or first[0].format != "ris":
            # Not RIS after all (the content decides): read the file whole.
            yield (*_whole(data, filename, format, mapping, spec), len(data))
            return
        yield (*first, ends[0])
        del first
        for i in range(1, len(cuts)):
            if ahead and ahead[0][0] == i:
                result = ahead.popleft()[1].result()
                top_up()
            else:
                result = pieces.parse_piece_rows(*piece(i))
            yield (*result, ends[i])
            del result  # let the stored rows go before the next piece arrives
    finally:
        if pool:
            pool.shutdown(wait=True, cancel_futures=True)


def _whole(
    data: bytes, filename: str, format: str, mapping: dict[str, str] | None,
    spec: RowSpec | None,
) -> Piece:
    result = importers.parse(data, filename=filename, format=format, mapping=mapping)
    if spec is None:
        return result, None
    rows = to_rows(result.records, spec)
    result.records = []
    return result, rows


def _workers() -> tuple[ProcessPoolExecutor, int]:
    # spawn, not fork: the web server runs imports in threads, and forking a threaded
    # process can copy a lock held by another thread. The workers import `importers` only.
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    n = max(1, min(MAX_WORKERS, cores or 1))
    return ProcessPoolExecutor(max_workers=n, mp_context=mp.get_context("spawn")), n


_RECORDS: sa.Table = Record.__table__  # type: ignore[assignment]
_CONSTANT_COLUMNS = ("project_id", "batch_id", "created_at")
# Record field -> column of the records table (the same name but for source_id).
_COLUMN_OF = {name: "source_record_id" if name == "source_id" else name for name in ROW_FIELDS}
_COLUMNS = (*_CONSTANT_COLUMNS, *_COLUMN_OF.values())
# Column lengths, so an over-long value (a 300-character "volume") never fails on PostgreSQL;
# the full value stays in ``raw``.
_LIMITS = {field: column.type.length for field, name in _COLUMN_OF.items()
           if isinstance((column := _RECORDS.c[name]).type, sa.String)
           and not isinstance(column.type, sa.Text) and column.type.length}


def row_spec(session: Session, project_id: int, batch_id: int, *, nul: bool) -> RowSpec:
    """How the records of one batch become rows of the records table on this database.

    Args:
        session: The import's session (its dialect decides how a time is written).
        project_id: The review.
        batch_id: The import batch.
        nul: The file holds NUL characters: strip them (PostgreSQL refuses them).
    """
    dialect = session.get_bind().dialect
    created = _RECORDS.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
    now = utcnow()
    return RowSpec(constants=(project_id, batch_id, created(now) if created else now),
                   limits=_LIMITS, strip_nul=nul)


def store_rows(
    session: Session, rows: list[Row], *, progress: Progress | None, offset: int = 0,
    total: int | None = None,
) -> None:
    """Insert rows from `parse_rows` in the session's transaction, `CHUNK` rows at a time.

    SQLite gets the driver's ``executemany``, PostgreSQL (psycopg) ``COPY``: no per-row
    work in SQLAlchemy (the rows are already what the driver takes).
    """
    count = len(rows)
    total = max(total or 0, offset + count)
    conn = session.connection()
    write = _copy if conn.dialect.driver == "psycopg" else _executemany
    for start in range(0, count, CHUNK):
        end = min(start + CHUNK, count)
        write(conn, rows[start:end])
        if progress:
            progress(offset + end, total)


_INSERT = f"INSERT INTO {_RECORDS.name} ({', '.join(_COLUMNS)}) VALUES ({{}})"
_COPY = f"COPY {_RECORDS.name} ({', '.join(_COLUMNS)}) FROM STDIN"


def _executemany(conn: Connection, rows: list[Row]) -> None:
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"  # sqlite3; else format
    conn.exec_driver_sql(_INSERT.format(", ".join(mark for _ in _COLUMNS)), rows)


def _copy(conn: Connection, rows: list[Row]) -> None:
    # psycopg's COPY, on the session's own connection: the same transaction.
    driver = conn.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(_COPY) as copy:
        for row in rows:
            copy.write_row(row)


def analyze_records(session: Session) -> None:
    """Refresh PostgreSQL's planner statistics of the records table after a large import.

    Runs in the import's transaction (it sees the new rows); SQLite keeps no statistics
    unless asked, so nothing is done there.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text(f"ANALYZE {_RECORDS.name}"))
