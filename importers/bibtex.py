"""BibTeX and BibLaTeX via bibtexparser v2 (LaTeX to Unicode, @string, crossref, braces)."""

from __future__ import annotations

import re
from typing import Any

import bibtexparser
from bibtexparser import middlewares as mw
from bibtexparser.model import DuplicateBlockKeyBlock, DuplicateFieldKeyBlock, Entry
from pylatexenc.latex2text import LatexNodes2Text

from importers.errors import Problem
from importers.normalise import join_keywords, make_record, split_keyword_string
from importers.record import Record

_SPECIAL = re.compile(r"[\\{}&%$#_~]")
_ESCAPES = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "&": r"\&", "%": r"\%",
            "$": r"\$", "#": r"\#", "_": r"\_", "~": r"\textasciitilde{}"}
FIELD_KEYS: dict[str, tuple[str, ...]] = {
    "title": ("title",),
    "abstract": ("abstract",),
    "authors": ("author", "editor"),
    "year": ("year", "date", "origdate"),
    "journal": ("journal", "journaltitle", "booktitle", "series"),
    "volume": ("volume",),
    "issue": ("number", "issue"),
    "pages": ("pages", "eid"),
    "doi": ("doi",),
    "pmid": ("pmid",),
    "issn": ("issn",),
    "isbn": ("isbn",),
    "url": ("url", "howpublished"),
    "keywords": ("keywords", "keyword"),
    "language": ("language", "langid"),
    "publisher": ("publisher", "institution", "organization", "school"),
}
_LATEX = LatexNodes2Text()
_CONTAINERS = frozenset({"xdata", "set"})
_WRITE_TYPES = {
    "article": "article", "book": "book", "chapter": "incollection",
    "conference": "inproceedings", "report": "techreport", "thesis": "phdthesis",
    "web": "online", "dataset": "dataset", "other": "misc",
}


def _stack() -> list[Any]:
    return [
        mw.NormalizeFieldKeys(allow_inplace_modification=True),
        mw.SeparateCoAuthors(allow_inplace_modification=True),
        mw.LatexDecodingMiddleware(allow_inplace_modification=True),
    ]


def _library(text: str) -> bibtexparser.Library:
    return bibtexparser.parse_string(text, append_middleware=_stack())


def _rescue(block: DuplicateFieldKeyBlock) -> Entry | None:
    """Keep an entry that repeats a field (WoS exports do): the first value wins."""
    entry = block.ignore_error_block
    if not isinstance(entry, Entry):
        return None
    seen: set[str] = set()
    fields = []
    for field in entry.fields:
        if field.key.lower() not in seen:
            seen.add(field.key.lower())
            fields.append(field)
    entry.fields = fields
    library = bibtexparser.Library([entry])
    for middleware in [mw.RemoveEnclosingMiddleware(allow_inplace_modification=True), *_stack()]:
        library = middleware.transform(library)
    return library.entries[0] if library.entries else None


def _value(entry_fields: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = entry_fields.get(key)
        if value:
            return value
    return None


def _inherit(fields: dict[str, Any], by_key: dict[str, dict[str, Any]]) -> None:
    """Copy missing fields from the crossref parent and BibLaTeX @xdata entries (one level)."""
    parent = by_key.get(str(fields.get("crossref", "")).lower())
    if parent:
        for key, value in parent.items():
            if key == "title":
                fields.setdefault("booktitle", value)
            elif key not in ("crossref", "ids", "xdata"):
                fields.setdefault(key, value)
    for name in str(fields.get("xdata", "")).split(","):
        for key, value in by_key.get(name.strip().lower(), {}).items():
            if key not in ("crossref", "ids", "xdata"):
                fields.setdefault(key, value)


def _entry_fields(entry: Entry) -> dict[str, Any]:
    # LaTeX decoding has removed grouping braces from strings; escaped ones (\{) are text.
    # The middleware leaves the split name lists alone, so names are decoded here, one by one
    # (decoding before the split would lose the braces that protect "{Barnes and Noble}").
    out: dict[str, Any] = {}
    for field in entry.fields:
        value = field.value
        if isinstance(value, list):
            value = [_decode_name(str(v)) for v in value]
        out[field.key] = value
    return out


def _decode_name(name: str) -> str:
    if "\\" not in name and "{" not in name:
        return name
    try:
        return str(_LATEX.latex_to_text(name)).strip()
    except Exception:  # noqa: BLE001 - pylatexenc may choke on odd markup; keep the name
        return name


def parse_text(text: str) -> tuple[list[Record], list[Problem]]:
    """Parse BibTeX/BibLaTeX text into records and problems (blocks that failed to parse).

    Args:
        text: Decoded file content.

    Returns:
        Records (one per entry, @string/@preamble/@comment excluded) and problems.
    """
    library = _library(text)
    found = list(library.entries)
    failed = []
    for block in library.failed_blocks:
        rescued = _rescue(block) if isinstance(block, DuplicateFieldKeyBlock) else None
        if rescued is not None:
            found.append(rescued)
        else:
            failed.append(block)
    entries = [(entry, _entry_fields(entry)) for entry in found]
    by_key = {entry.key.lower(): fields for entry, fields in entries}
    records: list[Record] = []
    problems = [_problem(block) for block in failed]
    for entry, fields in entries:
        if "crossref" in fields or "xdata" in fields:
            _inherit(fields, by_key)
        picked = {name: _value(fields, keys) for name, keys in FIELD_KEYS.items()}
        if isinstance(picked["keywords"], str):
            picked["keywords"] = split_keyword_string(picked["keywords"])
        picked["publication_type"] = entry.entry_type
        picked["source_id"] = entry.key
        raw = dict(fields, ENTRYTYPE=entry.entry_type, ID=entry.key)
        record = make_record(picked, raw, f"entry {entry.key}")
        if record.title or record.authors or record.doi:
            records.append(record)
        elif entry.entry_type.lower() in _CONTAINERS:
            problems.append(Problem(f"entry {entry.key}", f"@{entry.entry_type} is a BibLaTeX "
                                                          "data container, not a reference"))
        else:
            problems.append(Problem(f"entry {entry.key}", "entry without title, author or DOI"))
    return records, problems


def _problem(block: Any) -> Problem:
    if isinstance(block, DuplicateBlockKeyBlock):
        return Problem(f"entry {block.key}", f"duplicate key {block.key!r} (line "
                                             f"{(block.start_line or 0) + 1}); the first entry "
                                             "is kept")
    error = getattr(block, "error", None)
    reason = getattr(error, "abort_reason", None) or str(error or "") or "unreadable block"
    return Problem(f"line {(block.start_line or 0) + 1}", f"cannot read BibTeX block: {reason}")


def _escape(value: str) -> str:
    """Escape text so LaTeX decoding gives the same text back."""
    value = _SPECIAL.sub(lambda m: _ESCAPES[m.group(0)], value)
    while "--" in value:  # else read back as an en dash
        value = value.replace("--", "-{}-")
    return value.replace("``", "`{}`").replace("''", "'{}'")


def write(records: list[Record]) -> bytes:
    """Write records as BibTeX (UTF-8; keys from ``source_id`` or ``recN``, made unique)."""
    out: list[str] = []
    used: set[str] = set()
    for number, rec in enumerate(records, 1):
        key = re.sub(r"[\s,{}()=\"#%'~\\]", "", rec.source_id or "") or f"rec{number}"
        while key in used:
            key += "x"
        used.add(key)
        lines = [f"  {name} = {{{_escape(str(value))}}}" for name, value in (
            ("title", rec.title), ("year", rec.year), ("journal", rec.journal),
            ("volume", rec.volume), ("number", rec.issue), ("pages", rec.pages),
            ("doi", rec.doi), ("pmid", rec.pmid), ("issn", rec.issn), ("isbn", rec.isbn),
            ("url", rec.url), ("keywords", join_keywords(rec.keywords)),
            ("language", rec.language), ("publisher", rec.publisher),
            ("abstract", rec.abstract),
        ) if value not in (None, "")]
        if rec.authors:
            # Names without a comma (organisations) get braces so an inner " and " is text.
            names = [_escape(a) if ", " in a else "{" + _escape(a) + "}" for a in rec.authors]
            lines.insert(1, f"  author = {{{' and '.join(names)}}}")
        kind = _WRITE_TYPES.get(rec.publication_type or "other", "misc")
        out.append(f"@{kind}{{{key},\n" + ",\n".join(lines) + "\n}\n")
    return "\n".join(out).encode("utf-8")
