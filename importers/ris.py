"""RIS (and the RIS dialects of Ovid, Embase, Cochrane, EBSCO, ProQuest, Scopus, WoS, Zotero).

Parsing reuses rispy's parser class and tag table; the line loop is our own so that each
record knows its line number, vendor junk outside records ("Record #1 of 784", "1.", the
search strategy after the last record) is skipped, a missing ``ER`` before the next ``TY`` or
at the end of the file does not lose a record, and unknown tags are kept in ``raw``.
"""

from __future__ import annotations

import re
from typing import Any

import rispy

from importers.errors import Problem
from importers.normalise import make_record, normalise_doi
from importers.record import Record

# Tolerates "TY - X", "TY  -X" and a missing value ("ER  -") as seen in EBSCO/ProQuest files.
_TAG_LINE = re.compile(r"([A-Z][A-Z0-9])\s{1,3}-(?: ?(.*))?$")

# Field -> RIS tags in order of preference (the first tag present wins).
FIELD_TAGS: dict[str, tuple[str, ...]] = {
    "title": ("TI", "T1", "CT", "BT"),
    "abstract": ("AB", "N2"),
    "authors": ("AU", "A1"),
    "year": ("PY", "Y1", "DA", "Y2"),
    "journal": ("JF", "T2", "JO", "JA", "J2", "J1", "T3"),
    "volume": ("VL",),
    "issue": ("IS", "CP", "M1"),
    "start_page": ("SP",),
    "end_page": ("EP",),
    "url": ("UR", "L2", "LK", "L1"),
    "keywords": ("KW", "DE"),
    "language": ("LA",),
    "publication_type": ("TY",),
    "publisher": ("PB", "PU"),
    "source_id": ("ID", "AN"),
}
_TYPE_CODES = {
    "article": "JOUR", "book": "BOOK", "chapter": "CHAP", "conference": "CONF",
    "report": "RPRT", "thesis": "THES", "web": "ELEC", "dataset": "DATA", "other": "GEN",
}
_DOI_TAGS = ("DO", "DI", "M3", "L3", "UR")
_PMID_NOTE = re.compile(r"PMID:\s*(\d+)")
_CONTENT_FIELDS = ("title", "abstract", "authors", "doi", "pmid", "isbn")


class _LineParser(rispy.RisParser):
    """rispy's RIS parser with line numbers and tolerant record boundaries."""

    PATTERN = _TAG_LINE.pattern
    DEFAULT_MAPPING = {tag: tag for tag in rispy.TAG_KEY_MAPPING}

    def parse_line(self, line: str) -> tuple[str, str] | tuple[None, str]:
        """Split a line into (tag, value); a continuation line gives (None, text)."""
        if line[2:5] == "  -" and line[:2].isupper() and line[0].isalpha():
            return line[:2], line[6:].strip()
        if line[:1].isupper():
            match = _TAG_LINE.match(line)
            if match:
                return match.group(1), (match.group(2) or "").strip()
        return None, line.strip()

    def records(self, text: str) -> list[tuple[int, dict[str, list[str]]]]:
        """Split text into (first line number, tag -> values) for each record."""
        out: list[tuple[int, dict[str, list[str]]]] = []
        record: dict[str, list[str]] | None = None
        start = 0
        last: list[str] | None = None
        parse_line = self.parse_line
        for number, line in enumerate(text.split("\n"), 1):
            if not line:
                continue
            # Inlined fast path of parse_line: this loop runs for every line of 100k records.
            if line[2:5] == "  -" and line[:2].isupper() and line[0].isalpha():
                tag: str | None = line[:2]
                value = line[6:].strip()
            else:
                tag, value = parse_line(line)
            if tag is None:
                if last is not None and value:
                    # Keep the line break: continuation lines of KW are separate keywords.
                    last[-1] = f"{last[-1]}\n{value}" if last[-1] else value
            elif tag == "TY":
                if record is not None:
                    out.append((start, record))  # previous record lacked its ER line
                record, start, last = {"TY": [value]}, number, None
            elif record is None:
                continue  # vendor header, numbering or search strategy outside records
            elif tag == "ER":
                out.append((start, record))
                record, last = None, None
            else:
                last = record.get(tag)
                if last is None:
                    record[tag] = last = [value]
                else:
                    last.append(value)
        if record is not None and len(record) > 1:
            out.append((start, record))
        return out


_PARSER = _LineParser()


def _pick(tags: dict[str, list[str]]) -> dict[str, Any]:
    """Choose field values from the tags by `FIELD_TAGS` preference."""
    fields: dict[str, Any] = {}
    for name, candidates in FIELD_TAGS.items():
        for tag in candidates:
            values = tags.get(tag)
            if values and any(values):
                fields[name] = values if len(values) > 1 else values[0]
                break
    for tag in _DOI_TAGS:
        doi = normalise_doi(tags.get(tag))
        if doi:
            fields["doi"] = doi
            break
    for note in tags.get("C2", []):
        match = _PMID_NOTE.search(note)
        if match:
            fields["pmid"] = match.group(1)
    serials = tags.get("SN") or []
    for serial in serials:
        digits = sum(c.isdigit() for c in serial.split("(")[0])
        key = "isbn" if digits >= 10 else "issn"
        fields.setdefault(key, serial)
    if fields.get("source_id") and "AN" in tags and "medline" in " ".join(
        tags.get("DB", []) + tags.get("DP", [])
    ).lower():
        fields["pmid"] = tags["AN"][0]
    return fields


def parse_text(text: str) -> tuple[list[Record], list[Problem]]:
    """Parse RIS text into records and the records that could not be used.

    Args:
        text: Decoded file content.

    Returns:
        Records in file order, and problems for entries with no usable content.
    """
    records: list[Record] = []
    problems: list[Problem] = []
    for line, tags in _PARSER.records(text):
        raw = {tag: values[0] if len(values) == 1 else values for tag, values in tags.items()}
        record = make_record(_pick(tags), raw, f"line {line}")
        if not any(getattr(record, name) for name in _CONTENT_FIELDS):
            present = ", ".join(t for t in tags if t != "TY") or "nothing"
            problems.append(Problem(f"line {line}", f"no title, author, abstract or DOI "
                                                    f"(has {present})"))
            continue
        records.append(record)
    return records, problems


def count_records(text: str) -> int:
    """How many records the text holds (used by sniffing and tests)."""
    return len(_PARSER.records(text))


def _lines(tag: str, value: Any) -> list[str]:
    if value is None or value == "" or value == []:
        return []
    values = value if isinstance(value, list) else [value]
    return [f"{tag}  - {str(v).replace(chr(10), ' ')}" for v in values]


def write(records: list[Record]) -> bytes:
    """Write records as RIS (UTF-8, one blank line between records)."""
    out: list[str] = []
    for rec in records:
        lines = [f"TY  - {_TYPE_CODES.get(rec.publication_type or 'other', 'GEN')}"]
        start, _, end = (rec.pages or "").partition("-")
        for tag, value in (
            ("ID", rec.source_id), ("TI", rec.title), ("AU", rec.authors),
            ("PY", rec.year), ("T2", rec.journal), ("VL", rec.volume), ("IS", rec.issue),
            ("SP", start or None), ("EP", end or None), ("DO", rec.doi), ("SN", rec.issn),
            ("SN", rec.isbn), ("UR", rec.url), ("KW", rec.keywords), ("LA", rec.language),
            ("PB", rec.publisher), ("AB", rec.abstract), ("C2", rec.pmid and f"PMID:{rec.pmid}"),
        ):
            lines.extend(_lines(tag, value))
        lines.append("ER  - ")
        out.append("\n".join(lines))
    return ("\n\n".join(out) + "\n").encode("utf-8")
