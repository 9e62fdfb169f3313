"""Web of Science (and Zoological Record) plain text: FN/VR header, PT ... ER, EF."""

from __future__ import annotations

import re
from typing import Any

from importers.errors import Problem
from importers.normalise import collapse_tags, records_from_tags
from importers.record import Record

_LINE = re.compile(r"([A-Z][A-Z0-9]) (.*)$")
_HEADER_TAGS = frozenset({"FN", "VR", "EF"})
# Tags whose continuation lines are separate values (one name per line).
_LINE_LIST_TAGS = frozenset({"AU", "AF", "BA", "BF", "CA", "GP", "ED", "CR", "C1"})


def records(text: str) -> list[tuple[int, dict[str, list[str]]]]:
    """Split WoS text into (first line number, tag -> values) per record."""
    out: list[tuple[int, dict[str, list[str]]]] = []
    record: dict[str, list[str]] | None = None
    last: list[str] | None = None
    last_tag = ""
    start = 0
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        if line.startswith("  ") and record is not None and last is not None:
            value = line.strip()
            if last_tag in _LINE_LIST_TAGS:
                last.append(value)
            else:
                last[-1] = f"{last[-1]} {value}"  # a wrapped line of one value
            continue
        if line.rstrip() == "ER":
            if record:
                out.append((start, record))
            record, last = None, None
            continue
        match = _LINE.match(line)
        if not match or match.group(1) in _HEADER_TAGS:
            continue
        tag, value = match.group(1), match.group(2).strip()
        if tag == "PT":
            if record:
                out.append((start, record))
            record, start = {}, number
        elif record is None:
            continue  # every WoS record starts with PT
        last, last_tag = record.setdefault(tag, []), tag
        last.append(value)
    if record:
        out.append((start, record))
    return out


WOS_FIELDS: dict[str, tuple[str, ...]] = {
    "title": ("TI",),
    "abstract": ("AB",),
    "authors": ("AF", "AU", "CA"),
    "year": ("PY", "PD", "EA"),
    "journal": ("SO", "SE", "BS", "J9"),
    "volume": ("VL",),
    "issue": ("IS",),
    "start_page": ("BP", "AR"),
    "end_page": ("EP",),
    "doi": ("DI", "D2"),
    "pmid": ("PM",),
    "issn": ("SN", "EI"),
    "isbn": ("BN",),
    "url": ("UR",),
    "keywords": ("DE",),
    "language": ("LA",),
    "publication_type": ("DT", "PT"),
    "publisher": ("PU",),
    "source_id": ("UT", "AN"),
}


def fields_from(tags: dict[str, Any]) -> dict[str, Any]:
    """Pick fields from WoS tags (shared with the tab-delimited reader)."""
    fields: dict[str, Any] = {}
    for name, candidates in WOS_FIELDS.items():
        for tag in candidates:
            if tags.get(tag):
                fields[name] = tags[tag]
                break
    if tags.get("ID"):
        # ID holds WoS "Keywords Plus"; the authors' own keywords (DE) come first.
        fields["keywords"] = _as_list(fields.get("keywords") or []) + _as_list(tags["ID"])
    if isinstance(fields.get("publication_type"), str):
        fields["publication_type"] = fields["publication_type"].split(";")[0]
    return fields


def _as_list(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


def parse_text(text: str) -> tuple[list[Record], list[Problem]]:
    """Parse WoS plain text into records and problems (entries without title or id)."""
    return records_from_tags(records(text), lambda tags: fields_from(collapse_tags(tags)),
                             lambda r: bool(r.title or r.doi or r.source_id),
                             "record without title, DOI or UT id")
