"""Importers: every common reference export in, normalised `Record` objects out.

Public API::

    parse(data, *, filename, format="auto", mapping=None) -> ParseResult
    sniff(data, filename) -> str
    write(records, format) -> bytes
    format_for_path(path) -> str
    FORMATS, WRITE_FORMATS, ImportFormatError, PdfError, Problem, ParseResult, Record
"""

from __future__ import annotations

from collections.abc import Callable

from importers import (
    bibtex,
    csljson,
    endnote_tagged,
    endnote_xml,
    jsonl,
    medline,
    pubmed_xml,
    ris,
    tabular,
    wos,
)
from importers.encoding import decode
from importers.errors import ImportFormatError, ParseResult, PdfError, Problem
from importers.record import Record
from importers.sniff import format_for_path, sniff, sniff_bytes, sniff_text
from importers.xmlutil import XmlError

__all__ = [
    "FORMATS", "WRITE_FORMATS", "ImportFormatError", "ParseResult", "PdfError", "Problem",
    "Record", "format_for_path", "parse", "sniff", "write",
]

FORMATS = ("ris", "bibtex", "medline", "pubmed_xml", "endnote_xml", "endnote_tagged", "wos",
           "wos_tab", "csv", "xlsx", "csljson", "jsonl")
WRITE_FORMATS = ("ris", "bibtex", "csv", "tsv", "xlsx", "csljson", "jsonl")

TextParser = Callable[[str], tuple[list[Record], list[Problem]]]
_TEXT_PARSERS: dict[str, TextParser] = {
    "ris": ris.parse_text, "bibtex": bibtex.parse_text, "medline": medline.parse_text,
    "pubmed_xml": pubmed_xml.parse_text, "endnote_xml": endnote_xml.parse_text,
    "endnote_tagged": endnote_tagged.parse_text, "wos": wos.parse_text,
    "csljson": csljson.parse_text, "jsonl": jsonl.parse_text,
}
_WHY_NOT = {
    "empty": "the file is empty",
    "pdf": "this is a PDF; attach it to a record as a full text instead of importing it",
    "zip": "this is a ZIP archive; unpack it and upload the files inside",
    "unknown": "unknown format: not RIS, BibTeX, MEDLINE, PubMed XML, EndNote XML or tagged "
               "text, Web of Science, CSV/TSV/XLSX, CSL-JSON or JSON Lines",
}


def parse(
    data: bytes, *, filename: str, format: str = "auto", mapping: dict[str, str] | None = None
) -> ParseResult:
    """Read an uploaded export into normalised records.

    Args:
        data: The file's bytes.
        filename: Its name (for messages; the ending only breaks ties between formats).
        format: "auto" to sniff, or a name from `FORMATS` ("tsv" is accepted for "csv";
            the delimiter is detected either way).
        mapping: For tabular files, column -> Record field to use instead of the guess
            (an empty field name ignores the column).

    Returns:
        The format, encoding, records, per-record problems and, for tables, the columns
        and mapping used.

    Raises:
        ImportFormatError: When the file as a whole cannot be read: empty, unknown or wrong
            format, no usable record, broken XML or workbook. No other exception escapes.
    """
    try:
        return _parse(data, filename, format, mapping)
    except ImportFormatError:
        raise
    except RecursionError as exc:
        raise ImportFormatError(filename, "the file is nested too deeply to read") from exc
    except Exception as exc:  # noqa: BLE001 - the contract: only ImportFormatError escapes
        raise ImportFormatError(
            filename, f"internal error while reading ({type(exc).__name__}: {exc})"
        ) from exc


def _parse(data: bytes, filename: str, fmt: str, mapping: dict[str, str] | None) -> ParseResult:
    fmt = "csv" if fmt == "tsv" else fmt
    if fmt != "auto" and fmt not in FORMATS:
        raise ImportFormatError(filename, f"unknown format {fmt!r}; use one of "
                                          f"{', '.join(FORMATS)}")
    if not data.strip():
        raise ImportFormatError(filename, _WHY_NOT["empty"])
    binary = sniff_bytes(data)
    if fmt == "xlsx" or (fmt == "auto" and binary == "xlsx"):
        return _table(filename, "xlsx", "binary", mapping, data=data)
    if binary in ("pdf", "zip"):
        raise ImportFormatError(filename, _WHY_NOT[binary])
    text, encoding = decode(data)
    found = sniff_text(text, filename)
    if fmt == "auto":
        if found in _WHY_NOT:
            raise ImportFormatError(filename, _WHY_NOT[found], _first_line(text))
        fmt = found
    if fmt in ("csv", "wos_tab"):
        return _table(filename, fmt, encoding, mapping, text=text)
    looks = f" (the content looks like {found})" if found not in (fmt, "unknown") else ""
    try:
        records, problems = _TEXT_PARSERS[fmt](text)
    except XmlError as exc:
        raise ImportFormatError(filename, exc.reason + looks, exc.line) from exc
    except ValueError as exc:  # JSON that does not parse as a whole
        raise ImportFormatError(filename, f"not valid {fmt}: {exc}{looks}") from exc
    _require_records(filename, fmt, found, records, problems)
    return ParseResult(format=fmt, encoding=encoding, records=records, problems=problems)


_EMPTY_HINTS = {
    "bibtex": ": no @article{...}-style entry, only comments, @string or @preamble blocks",
    "ris": ": no record starting with a 'TY  - ' line",
}


def _first_line(text: str) -> int | None:
    return 1 if text.strip() else None


def _require_records(
    filename: str, fmt: str, found: str, records: list[Record], problems: list[Problem]
) -> None:
    if records:
        return
    if problems:
        first = problems[0]
        raise ImportFormatError(filename, f"no usable {fmt} record: {len(problems)} "
                                          f"unreadable, first at {first.locator}: {first.reason}")
    looks = f" (the content looks like {found})" if found not in (fmt, "unknown") else ""
    hint = _EMPTY_HINTS.get(fmt, "") if not looks else ""
    raise ImportFormatError(filename, f"no {fmt} records found{looks}{hint}")


def _table(
    filename: str,
    fmt: str,
    encoding: str,
    mapping: dict[str, str] | None,
    *,
    data: bytes | None = None,
    text: str | None = None,
) -> ParseResult:
    try:
        if data is not None:
            columns, rows = tabular.read_xlsx(data)
        else:
            columns, rows = tabular.read_csv(text or "")
        records, problems, used = tabular.parse(columns, rows, mapping)
    except tabular.TableError as exc:
        raise ImportFormatError(filename, str(exc)) from exc
    if not used:
        raise ImportFormatError(filename, "no column could be matched to a record field "
                                          f"(columns: {', '.join(columns)[:300]})", 1)
    _require_records(filename, fmt, fmt, records, problems)
    return ParseResult(format=fmt, encoding=encoding, records=records, problems=problems,
                       columns=columns, mapping=used)


_WRITERS: dict[str, Callable[[list[Record]], bytes]] = {
    "ris": ris.write, "bibtex": bibtex.write, "csv": tabular.write_csv, "tsv": tabular.write_tsv,
    "xlsx": tabular.write_xlsx, "csljson": csljson.write, "jsonl": jsonl.write,
}


def write(records: list[Record], format: str) -> bytes:
    """Write records in one of `WRITE_FORMATS`.

    Raises:
        ValueError: For a format that cannot be written.
    """
    try:
        writer = _WRITERS[format]
    except KeyError:
        raise ValueError(f"cannot write {format!r}; use one of {', '.join(WRITE_FORMATS)}") \
            from None
    return writer(records)
