"""CSV, TSV and XLSX: rows to records through a column mapping the user can correct."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterator
from typing import Any

from importers.columns import MULTI_TARGETS, TARGETS, guess_mapping
from importers.errors import Problem
from importers.normalise import make_record
from importers.record import Record

# Abstracts and reference lists exceed csv's 128 KiB default; this only raises the limit.
csv.field_size_limit(64 * 1024 * 1024)

CSV_COLUMNS = (
    "title", "abstract", "authors", "year", "journal", "volume", "issue", "pages", "doi",
    "pmid", "issn", "isbn", "url", "keywords", "language", "publication_type", "publisher",
    "record_id",
)
_EXCEL_MAX = 32767  # characters an XLSX cell may hold


class TableError(ValueError):
    """The table cannot be read at all (no header, broken workbook, bad mapping)."""


def delimiter_of(text: str) -> str:
    """Pick the delimiter from the header line: tab, semicolon or comma."""
    header = text.split("\n", 1)[0]
    counts = {d: header.count(d) for d in ("\t", ";", ",")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_csv(text: str) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """Header and (row number, cells) from delimited text (header is row 1)."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter_of(text))
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise TableError("no header row") from exc

    def rows() -> Iterator[tuple[int, list[str]]]:
        yield from enumerate(reader, 2)

    return [h.strip() for h in header], rows()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def read_xlsx(data: bytes) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """Header and (row number, cells) from the first worksheet of an XLSX workbook."""
    from openpyxl import load_workbook  # imported lazily: only XLSX uploads need it

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        rows_iter = book.worksheets[0].iter_rows(values_only=True)
        header = [_cell(v).strip() for v in next(rows_iter)]
    except (StopIteration, IndexError) as exc:
        raise TableError("the workbook has no header row") from exc
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as exc:
        raise TableError(f"not a readable XLSX workbook ({exc})") from exc

    def rows() -> Iterator[tuple[int, list[str]]]:
        for number, row in enumerate(rows_iter, 2):
            yield number, [_cell(v) for v in row]

    return header, rows()


def check_mapping(columns: list[str], mapping: dict[str, str]) -> dict[str, str]:
    """Validate a user's mapping; empty targets mean "ignore this column"."""
    clean = {}
    for column, target in mapping.items():
        if not target:
            continue
        if column not in columns:
            raise TableError(f"mapping names column {column!r}, which the file does not have")
        if target not in TARGETS:
            raise TableError(f"mapping sends {column!r} to unknown field {target!r}; "
                             f"fields are {', '.join(TARGETS)}")
        clean[column] = target
    return clean


def records_from_rows(
    columns: list[str], rows: Iterator[tuple[int, list[str]]], mapping: dict[str, str]
) -> tuple[list[Record], list[Problem]]:
    """Build records from rows with `mapping` (column -> target)."""
    index = [(i, mapping.get(c)) for i, c in enumerate(columns)]
    width = len(columns)
    records: list[Record] = []
    problems: list[Problem] = []
    for number, cells in rows:
        if not "".join(cells).strip():
            continue
        raw: dict[str, Any] = {columns[i]: cells[i] for i in range(min(width, len(cells)))
                               if cells[i] != ""}
        if len(cells) > width:
            raw["_extra_cells"] = cells[width:]
        fields: dict[str, Any] = {}
        for i, target in index:
            if target is None or i >= len(cells) or not cells[i].strip():
                continue
            if target in MULTI_TARGETS and target in fields:
                fields[target] = f"{fields[target]};{cells[i]}"
            else:
                fields[target] = cells[i]
        record = make_record(fields, raw, f"row {number}")
        if not (record.title or record.abstract or record.authors or record.doi):
            problems.append(Problem(f"row {number}", "row without title, abstract, authors "
                                                     "or DOI"))
            continue
        records.append(record)
    return records, problems


def parse(
    columns: list[str], rows: Iterator[tuple[int, list[str]]], mapping: dict[str, str] | None
) -> tuple[list[Record], list[Problem], dict[str, str]]:
    """Records, problems and the mapping used (guessed unless given)."""
    used = check_mapping(columns, mapping) if mapping is not None else guess_mapping(columns)
    records, problems = records_from_rows(columns, rows, used)
    return records, problems, used


def _row(rec: Record) -> list[str]:
    values: list[Any] = [
        rec.title, rec.abstract, "; ".join(rec.authors), rec.year, rec.journal, rec.volume,
        rec.issue, rec.pages, rec.doi, rec.pmid, rec.issn, rec.isbn, rec.url,
        "; ".join(rec.keywords), rec.language, rec.publication_type, rec.publisher,
        rec.source_id,
    ]
    return ["" if v is None else str(v) for v in values]


def write_csv(records: list[Record], delimiter: str = ",") -> bytes:
    """Write records as UTF-8 CSV (with BOM so Excel shows accents) with `CSV_COLUMNS`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for rec in records:
        writer.writerow(_row(rec))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def write_tsv(records: list[Record]) -> bytes:
    """Write records as tab-separated values with the same columns as `write_csv`."""
    return write_csv(records, delimiter="\t")


def write_xlsx(records: list[Record]) -> bytes:
    """Write records as an XLSX workbook with the same columns as `write_csv`."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    book = Workbook(write_only=True)
    sheet = book.create_sheet("records")
    sheet.append(list(CSV_COLUMNS))
    for rec in records:
        # Control characters are illegal in XLSX; cells are capped at Excel's limit.
        sheet.append([ILLEGAL_CHARACTERS_RE.sub("", v)[:_EXCEL_MAX] for v in _row(rec)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
