"""A large UTF-8 RIS file cut at record starts into pieces, each parsed on its own.

`importers.parse` reads a whole file at once: for a 300 MB export of 100,000 records the
text, the tags and the records together take well over 1 GB. Cut at ``TY  -`` lines, the
pieces can be parsed one after the other, or in other processes, and their line numbers
shifted so every message still names the line of the whole file. Everything here is plain
data in, plain data out: a worker process imports this module only.
"""

from __future__ import annotations

import codecs
import re
from typing import Any

import importers
from importers import ris
from importers.encoding import decode
from importers.errors import ParseResult
from importers.rows import RowSpec, to_rows

_RECORD_START = re.compile(rb"(?m)^TY  - ")
_LINE = re.compile(r"\bline (\d+)")


def cuts(data: bytes, piece_bytes: int) -> list[tuple[int, int]] | None:
    """(byte offset, first line number) of each piece of about ``piece_bytes``.

    Returns:
        The cuts, or None when the file should be parsed whole: not UTF-8 (one encoding
        guess must hold for the whole file) or too small for a second piece.
    """
    if not _is_utf8(data):
        return None
    found_cuts = [(0, 1)]
    last, line = 0, 1
    carriage = b"\r" in data
    while True:
        found = _RECORD_START.search(data, last + piece_bytes)
        if found is None:
            break
        start = found.start()
        # Line breaks as the decoder counts them: \r\n, \n and a lone \r each end a line.
        line += data.count(b"\n", last, start)
        if carriage:
            line += data.count(b"\r", last, start) - data.count(b"\r\n", last, start)
        found_cuts.append((start, line))
        last = start
    return found_cuts if len(found_cuts) > 1 else None


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


def parse_piece(piece: bytes, filename: str, format: str, first_line: int) -> ParseResult:
    """Parse one piece, its line numbers (records and problems) made those of the file.

    The first piece (``first_line`` 1) goes through `importers.parse` (sniffing, BOM,
    format checks). A later piece is RIS text by construction (cut at ``TY  -``, UTF-8
    checked): it is read with the RIS reader directly, so a piece of only unusable records
    lists them as problems, as the whole file's parse would, instead of failing as a file
    without records.

    Raises:
        importers.ImportFormatError: For the first piece, as `importers.parse` does.
    """
    if first_line == 1:
        return importers.parse(piece, filename=filename, format=format)
    text, encoding = decode(piece)
    records, problems = ris.parse_text(text)
    for record in records:
        record.locator = _shift(record.locator, first_line)
    for problem in problems:
        problem.locator = _shift(problem.locator, first_line) or problem.locator
    return ParseResult(format="ris", encoding=encoding, records=records, problems=problems)


def parse_piece_rows(
    piece: bytes, filename: str, format: str, first_line: int, spec: RowSpec | None
) -> tuple[ParseResult, list[tuple[Any, ...]] | None]:
    """`parse_piece`, its records handed back as rows to store (`importers.rows.to_rows`).

    Returns:
        The parse result without its records (format, encoding, problems) and the rows;
        with ``spec`` None, the result with its records and no rows.
    """
    result = parse_piece(piece, filename, format, first_line)
    if spec is None:
        return result, None
    rows = to_rows(result.records, spec)
    result.records = []
    return result, rows


def _shift(text: str | None, first_line: int) -> str | None:
    """Line numbers of a piece made line numbers of the file."""
    if not text:
        return text
    if text.startswith("line ") and text[5:].isdigit():  # a record's own locator
        return f"line {int(text[5:]) + first_line - 1}"
    return _LINE.sub(lambda m: f"line {int(m.group(1)) + first_line - 1}", text)
