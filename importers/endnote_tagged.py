"""EndNote tagged text ("refer" style): %0 type, %A author, %T title, ... blank-line separated."""

from __future__ import annotations

from typing import Any

from importers.errors import Problem
from importers.normalise import records_from_tags
from importers.record import Record

FIELD_TAGS: dict[str, tuple[str, ...]] = {
    "title": ("%T",),
    "abstract": ("%X",),
    "authors": ("%A",),
    "year": ("%D", "%8"),
    "journal": ("%J", "%B"),
    "volume": ("%V",),
    "issue": ("%N",),
    "pages": ("%P",),
    "doi": ("%R", "%U"),
    "isbn": (),
    "url": ("%U",),
    "keywords": ("%K",),
    "language": ("%G",),
    "publication_type": ("%0",),
    "publisher": ("%I",),
    "source_id": ("%M", "%F"),
}


def records(text: str) -> list[tuple[int, dict[str, list[str]]]]:
    """Split tagged text into (first line number, tag -> values) per record."""
    out: list[tuple[int, dict[str, list[str]]]] = []
    record: dict[str, list[str]] | None = None
    last: list[str] | None = None
    start = 0
    for number, line in enumerate(text.split("\n"), 1):
        if len(line) >= 2 and line[0] == "%" and (len(line) == 2 or line[2] == " "):
            tag, value = line[:2], line[3:].strip()
            if tag == "%0":
                if record:
                    out.append((start, record))
                record, start = {}, number
            elif record is None:
                continue  # every EndNote record starts with %0 (its type)
            last = record.setdefault(tag, [])
            last.append(value)
        elif line.strip() and last is not None:
            last[-1] = f"{last[-1]}\n{line.strip()}"
    if record:
        out.append((start, record))
    return out


def _fields(tags: dict[str, list[str]]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, candidates in FIELD_TAGS.items():
        for tag in candidates:
            if tags.get(tag):
                fields[name] = tags[tag] if len(tags[tag]) > 1 else tags[tag][0]
                break
    for serial in tags.get("%@", []):
        digits = sum(c.isdigit() for c in serial)
        fields.setdefault("isbn" if digits >= 10 else "issn", serial)
    return fields


def parse_text(text: str) -> tuple[list[Record], list[Problem]]:
    """Parse EndNote tagged text into records and problems."""
    return records_from_tags(records(text), _fields,
                             lambda r: bool(r.title or r.authors or r.doi),
                             "entry without title, author or DOI")
