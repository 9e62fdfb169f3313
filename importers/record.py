"""The common normalised record every importer produces and every writer consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Record:
    """One bibliographic record, normalised.

    ``raw`` keeps the fields exactly as read from the file (tag or column -> value or list of
    values) so nothing the export held is lost. ``locator`` says where in the file the record
    came from ("line 120", "entry smith2020", "row 14") for error messages and previews.
    """

    title: str | None = None
    abstract: str | None = None
    authors: list[str] = field(default_factory=list)  # "Family, Given" in file order
    year: int | None = None
    journal: str | None = None
    volume: str | None = None
    issue: str | None = None
    pages: str | None = None
    doi: str | None = None
    pmid: str | None = None
    issn: str | None = None
    isbn: str | None = None
    url: str | None = None
    keywords: list[str] = field(default_factory=list)
    language: str | None = None
    publication_type: str | None = None
    publisher: str | None = None
    # The record's own id in the export (record_id column, citekey, accession number).
    source_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    locator: str | None = None
