"""CSL-JSON (Zotero, Mendeley, citeproc): a JSON array of items."""

from __future__ import annotations

import json
from typing import Any

from importers.errors import Problem
from importers.normalise import join_keywords, make_record, split_keyword_string
from importers.record import Record

_WRITE_TYPES = {
    "article": "article-journal", "book": "book", "chapter": "chapter",
    "conference": "paper-conference", "report": "report", "thesis": "thesis",
    "web": "webpage", "dataset": "dataset", "other": "document",
}


def _names(value: Any) -> list[str]:
    names = []
    for person in value if isinstance(value, list) else []:
        if isinstance(person, dict):
            family, given = person.get("family"), person.get("given")
            literal = person.get("literal")
            if family:
                names.append(f"{family}, {given}" if given else str(family))
            elif literal:
                names.append(str(literal))
        elif isinstance(person, str):
            names.append(person)
    return names


def _year(value: Any) -> Any:
    if isinstance(value, dict):
        parts = value.get("date-parts")
        if isinstance(parts, list) and parts and isinstance(parts[0], list) and parts[0]:
            return parts[0][0]
        return value.get("raw") or value.get("literal")
    return value


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def fields_from(item: dict[str, Any]) -> dict[str, Any]:
    """Map one CSL item to Record field values."""
    keywords = item.get("keyword")
    return {
        "title": item.get("title"),
        "abstract": item.get("abstract"),
        "authors": _names(item.get("author")) or _names(item.get("editor")),
        "year": _year(item.get("issued")) or _year(item.get("original-date")),
        "journal": _first(item.get("container-title")),
        "volume": item.get("volume"),
        "issue": item.get("issue") or item.get("number"),
        "pages": item.get("page"),
        "doi": item.get("DOI"),
        "pmid": item.get("PMID"),
        "issn": _first(item.get("ISSN")),
        "isbn": _first(item.get("ISBN")),
        "url": item.get("URL"),
        "keywords": split_keyword_string(keywords) if isinstance(keywords, str) else keywords,
        "language": item.get("language"),
        "publication_type": item.get("type"),
        "publisher": item.get("publisher"),
        "source_id": item.get("id"),
    }


def _stringify(item: dict[str, Any]) -> dict[str, Any]:
    """Turn numbers into strings (CSL allows ``"volume": 12``) so normalisers see text."""
    return {k: str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v
            for k, v in item.items()}


def parse_text(text: str) -> tuple[list[Record], list[Problem]]:
    """Parse CSL-JSON (an array, or one item object) into records and problems.

    Raises:
        ValueError: When the text is not JSON (json.JSONDecodeError).
    """
    data = json.loads(text)
    items = data if isinstance(data, list) else [data]
    records: list[Record] = []
    problems: list[Problem] = []
    for number, item in enumerate(items, 1):
        locator = f"item {number}"
        if not isinstance(item, dict):
            problems.append(Problem(locator, "item is not a JSON object"))
            continue
        record = make_record(fields_from(_stringify(item)), item, locator)
        if not (record.title or record.authors or record.doi):
            problems.append(Problem(locator, "item without title, author or DOI"))
            continue
        records.append(record)
    return records, problems


def to_item(rec: Record, number: int) -> dict[str, Any]:
    """One record as a CSL-JSON item."""
    item: dict[str, Any] = {
        "id": rec.source_id or f"rec{number}",
        "type": _WRITE_TYPES.get(rec.publication_type or "other", "document"),
        "title": rec.title, "abstract": rec.abstract,
        "author": [_person(a) for a in rec.authors],
        "issued": {"date-parts": [[rec.year]]} if rec.year else None,
        "container-title": rec.journal, "volume": rec.volume, "issue": rec.issue,
        "page": rec.pages, "DOI": rec.doi, "PMID": rec.pmid, "ISSN": rec.issn,
        "ISBN": rec.isbn, "URL": rec.url, "keyword": join_keywords(rec.keywords),
        "language": rec.language, "publisher": rec.publisher,
    }
    return {k: v for k, v in item.items() if v not in (None, [], "")}


def _person(name: str) -> dict[str, str]:
    family, sep, given = name.partition(", ")
    return {"family": family, "given": given} if sep else {"literal": name}


def write(records: list[Record]) -> bytes:
    """Write records as a CSL-JSON array (UTF-8)."""
    items = [to_item(rec, n) for n, rec in enumerate(records, 1)]
    return json.dumps(items, ensure_ascii=False, indent=1).encode("utf-8")
