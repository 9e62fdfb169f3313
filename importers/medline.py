"""PubMed MEDLINE text (.nbib, .txt): "TAG - value" lines, records start with PMID-."""

from __future__ import annotations

import re
from typing import Any

from importers.errors import Problem
from importers.normalise import records_from_tags
from importers.record import Record

_LINE = re.compile(r"([A-Z][A-Z0-9]{0,3}) *- (.*)$")
_DOI_ID = re.compile(r"(\S+)\s*\[doi\]")


def records(text: str) -> list[tuple[int, dict[str, list[str]]]]:
    """Split MEDLINE text into (first line number, tag -> values) per record."""
    out: list[tuple[int, dict[str, list[str]]]] = []
    record: dict[str, list[str]] | None = None
    last: list[str] | None = None
    start = 0
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        if line.startswith("      ") or line.startswith("\t"):
            if last is not None:
                last[-1] = f"{last[-1]}\n{line.strip()}"
            continue
        match = _LINE.match(line)
        if not match:
            continue  # header lines or junk between records
        tag, value = match.group(1), match.group(2).strip()
        if tag == "PMID":
            if record:
                out.append((start, record))
            record, start = {}, number
        elif record is None:
            continue  # every MEDLINE record starts with PMID; anything before is not one
        last = record.setdefault(tag, [])
        last.append(value)
    if record:
        out.append((start, record))
    return out


def _fields(tags: dict[str, list[str]]) -> dict[str, Any]:
    get = tags.get
    doi = None
    for value in get("LID", []) + get("AID", []):
        match = _DOI_ID.search(value)
        if match:
            doi = match.group(1)
            break
    return {
        "title": get("TI") or get("BTI"),
        "abstract": get("AB"),
        "authors": get("FAU") or get("AU") or [],
        "year": get("DP") or get("DEP"),
        "journal": get("JT") or get("TA"),
        "volume": get("VI"),
        "issue": get("IP"),
        "pages": get("PG"),
        "doi": doi,
        "pmid": get("PMID"),
        "issn": get("IS"),
        "isbn": get("ISBN"),
        "keywords": (get("OT") or []) + (get("MH") or []),
        "language": get("LA"),
        "publication_type": (get("PT") or ["Journal Article"])[0],
        "publisher": get("PB"),
        "source_id": get("PMID"),
    }


def parse_text(text: str) -> tuple[list[Record], list[Problem]]:
    """Parse MEDLINE text into records and problems (entries without title or PMID)."""
    return records_from_tags(records(text), _fields,
                             lambda r: bool(r.title or r.pmid or r.abstract),
                             "MEDLINE entry without PMID, title or abstract")
