"""JSON Lines of normalised records: one `Record` (without raw/locator) per line."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from importers.errors import Problem
from importers.normalise import make_record
from importers.record import Record

_FIELDS = tuple(f.name for f in dataclasses.fields(Record) if f.name not in ("raw", "locator"))


def parse_text(text: str) -> tuple[list[Record], list[Problem]]:
    """Parse JSON Lines; a bad line is a problem, the other lines still import."""
    records: list[Record] = []
    problems: list[Problem] = []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        locator = f"line {number}"
        try:
            item = json.loads(line)
        except ValueError as exc:
            problems.append(Problem(locator, f"invalid JSON: {exc}"))
            continue
        if not isinstance(item, dict):
            problems.append(Problem(locator, "line is not a JSON object"))
            continue
        fields = {k: item.get(k) for k in _FIELDS}
        for key in ("year", "volume", "issue", "pmid", "source_id"):
            value = fields.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                fields[key] = str(value) if key != "year" else int(value)
        record = make_record(fields, item.get("raw") or {}, locator)
        if not (record.title or record.authors or record.doi or record.abstract):
            problems.append(Problem(locator, "record without title, author, abstract or DOI"))
            continue
        records.append(record)
    return records, problems


def to_dict(rec: Record) -> dict[str, Any]:
    """A record as a JSON-ready dict (normalised fields only)."""
    return {name: getattr(rec, name) for name in _FIELDS}


def write(records: list[Record]) -> bytes:
    """Write one JSON object per line (UTF-8)."""
    return "".join(json.dumps(to_dict(r), ensure_ascii=False) + "\n" for r in records).encode()
