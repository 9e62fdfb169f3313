"""Records as flat tuples ready for a bulk INSERT or COPY: what a parsing process hands over.

A process that parses a piece of a large file turns its records into rows here, so the
process that stores them only passes the rows to the database driver. Rows pickle several
times faster than `Record` objects with their nested ``raw`` dicts, and the JSON of
``authors``, ``keywords`` and ``raw`` is already encoded (``json.dumps`` with its defaults,
as SQLAlchemy's JSON type writes it), so the storing process does no per-field work.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from importers.record import Record

# Record fields in row order; the values of `RowSpec.constants` come first.
ROW_FIELDS = ("source_id", "locator", "title", "abstract", "authors", "year", "journal",
              "volume", "issue", "pages", "doi", "pmid", "issn", "isbn", "url", "keywords",
              "language", "publication_type", "publisher", "raw")
JSON_FIELDS = ("authors", "keywords", "raw")

_VALUES = attrgetter(*ROW_FIELDS)
_JSON_AT = tuple(ROW_FIELDS.index(name) for name in JSON_FIELDS)


@dataclass(frozen=True)
class RowSpec:
    """How records become rows (plain data: it travels to the parsing process).

    Attributes:
        constants: Values put first in every row (e.g. project, batch, creation time).
        limits: Field -> most characters stored (a longer value is cut; ``raw`` keeps it).
        strip_nul: Remove NUL characters from every text (PostgreSQL refuses them).
    """

    constants: tuple[Any, ...] = ()
    limits: dict[str, int] = field(default_factory=dict)
    strip_nul: bool = False


def to_rows(records: list[Record], spec: RowSpec) -> list[tuple[Any, ...]]:
    """The records as tuples: ``spec.constants`` then the `ROW_FIELDS` values, JSON encoded.

    Args:
        records: Parsed records.
        spec: Constants, length limits and NUL handling.

    Returns:
        One tuple per record, in order.
    """
    dumps = json.dumps
    constants, strip_nul = spec.constants, spec.strip_nul
    limited = tuple((ROW_FIELDS.index(name), limit) for name, limit in spec.limits.items()
                    if name in ROW_FIELDS and name not in JSON_FIELDS)
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    for record in records:
        values = list(_VALUES(record))
        if strip_nul:
            values = [_strip_nul(v) for v in values]
        for i in _JSON_AT:
            values[i] = dumps(values[i])
        for i, limit in limited:
            value = values[i]
            if isinstance(value, str) and len(value) > limit:
                values[i] = value[:limit]
        append((*constants, *values))
    return rows


def _strip_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, list):
        return [_strip_nul(v) for v in value]
    if isinstance(value, dict):
        return {_strip_nul(k): _strip_nul(v) for k, v in value.items()}
    return value
