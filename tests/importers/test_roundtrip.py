"""parse(write(records, f)) gives back the same normalised records."""

from __future__ import annotations

import dataclasses

import pytest

import importers
from importers import parse, write
from importers.record import Record

from .conftest import FORMATS_DIR, fixture

SOURCES = [
    "ris/ASySD__ris_export.txt",
    "ris/asreview__scopus.ris",
    "ris/synthesisr__Ovid_ris_example.ris",
    "pubmed/metaknowledge__medline_test.medline",
    "zoological_record/synthesisr__zoorec.txt",
    "endnote_xml/ASySD__mendeley_export.xml",
    "scopus_csv/litstudy__scopus.csv",
    "bibtex/bibtex_tidy__others__bibtex-biblatex-examples.bib",
    "bibtex/bibtex_tidy__biber__names_x.bib",
]
ROUND_TRIP = ("ris", "csv", "tsv", "bibtex", "jsonl", "csljson", "xlsx")
_COMPARED = [f.name for f in dataclasses.fields(Record) if f.name not in ("raw", "locator")]


def _fields(record: Record, *, drop_id: bool = False) -> dict[str, object]:
    out = {name: getattr(record, name) for name in _COMPARED}
    if drop_id:
        out.pop("source_id")
    return out


def _records(relative: str) -> list[Record]:
    path = FORMATS_DIR / relative
    if not path.exists():
        pytest.skip("shared data not available")
    return parse(path.read_bytes(), filename=path.name).records[:100]


def _check(records: list[Record], fmt: str) -> None:
    data = write(records, fmt)
    again = parse(data, filename=f"export.{fmt}", format=fmt)
    assert not again.problems
    assert len(again.records) == len(records)
    ids = [r.source_id for r in records]
    for before, after in zip(records, again.records, strict=True):
        # BibTeX and CSL-JSON need unique keys: missing or repeated ids are replaced.
        drop = fmt in ("bibtex", "csljson") and (before.source_id is None
                                                 or ids.count(before.source_id) > 1)
        assert _fields(after, drop_id=drop) == _fields(before, drop_id=drop)


@pytest.mark.parametrize("fmt", ROUND_TRIP)
@pytest.mark.parametrize("source", SOURCES)
def test_round_trip_real_records(source: str, fmt: str) -> None:
    _check(_records(source), fmt)


@pytest.mark.parametrize("fmt", ROUND_TRIP)
def test_round_trip_awkward_values(fmt: str) -> None:
    records = parse(fixture("ris_vendor_quirks.ris"), filename="q.ris").records
    records.append(Record(
        title="Braces {x}, 50% & $5 costs -- \\ backslash ~ tilde # hash_underscore",
        abstract="Line one. ``Quoted'' text with “curly” quotes.",
        authors=["O'Brien, Séamus", "World Health Organization", "van der Berg, A."],
        year=1999, journal="Journal of Things & Stuff", volume="12", issue="3 Suppl",
        pages="e101-e109", doi="10.1002/(sici)1097-4571(199806)49:8", pmid="12345678",
        issn="1234-567X", isbn="9783161484100", url="https://example.org/a?b=c&d=e",
        keywords=["one", "two, with comma", "Drei"], language="de",
        publication_type="chapter", publisher="Über Press", source_id="obrien1999",
    ))
    _check(records, fmt)


def test_write_rejects_unknown_format() -> None:
    with pytest.raises(ValueError, match="cannot write 'medline'"):
        write([], "medline")
    assert set(importers.WRITE_FORMATS) == set(ROUND_TRIP)
