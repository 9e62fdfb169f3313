"""Unit tests of the field normalisers."""

from __future__ import annotations

import pytest

from importers.names import normalise_author, split_author_string
from importers.normalise import (
    clean_text,
    make_record,
    normalise_doi,
    normalise_isbn,
    normalise_issn,
    normalise_keywords,
    normalise_language,
    normalise_pages,
    normalise_pmid,
    normalise_type,
    normalise_url,
    normalise_year,
)


@pytest.mark.parametrize(
    ("raw", "doi"),
    [
        ("10.1016/J.GENE.2015.10.064", "10.1016/j.gene.2015.10.064"),
        ("https://doi.org/10.1080/20964129.2020.1722034", "10.1080/20964129.2020.1722034"),
        ("http://dx.doi.org/10.4236/ojf.2020.101008.", "10.4236/ojf.2020.101008"),
        ("doi:10.1002/ebm2.15", "10.1002/ebm2.15"),
        ("DOI: 10.1002/(SICI)1097-4571(199806)49:8", "10.1002/(sici)1097-4571(199806)49:8"),
        ("10.1016/j.gene.2015.10.064 [doi]", "10.1016/j.gene.2015.10.064"),
        ("https://doi.org/10.1000%2Fabc", "10.1000/abc"),
        ("DOI 1", None),
        ("S0378-1119(15)01297-4", None),
        ("10.12/short-prefix", None),
        ("", None),
        (None, None),
        (["no doi here", "10.1234/second"], "10.1234/second"),
    ],
)
def test_doi(raw: object, doi: str | None) -> None:
    assert normalise_doi(raw) == doi


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("Shannon,Claude E.", "Shannon, Claude E."),
        ("Larsen, LJ", "Larsen, L. J."),
        ("Smith JA", "Smith, J. A."),
        ("Claude E. Shannon", "Shannon, Claude E."),
        ("Ludwig van Beethoven", "van Beethoven, Ludwig"),
        ("Labanski, A.", "Labanski, A."),
        ("Smith, J.A.", "Smith, J. A."),
        ("Smith, J", "Smith, J."),
        ("Smith,  Jean-Paul ", "Smith, Jean-Paul"),
        ("Stillman, Andrew N. (andrew.stillman@uconn.edu)", "Stillman, Andrew N."),
        ("World Health Organization", "World Health Organization"),
        ("Government Outcomes Lab", "Government Outcomes Lab"),
        ("Plato", "Plato"),
        ("  ;  ", None),
    ],
)
def test_author(raw: str, name: str | None) -> None:
    assert normalise_author(raw) == name
    if name:
        assert normalise_author(name) == name  # idempotent: round trips rely on it


def test_author_lists_split_on_the_right_separator() -> None:
    assert split_author_string("Smith, John; Doe, Jane") == ["Smith, John", "Doe, Jane"]
    assert split_author_string("Smith, John and Jane Doe") == ["Smith, John", "Jane Doe"]
    assert split_author_string("Tang J., Wang Y.") == ["Tang J.", "Wang Y."]
    assert split_author_string("Smith J, Jones K, Brown L") == ["Smith J", "Jones K", "Brown L"]
    assert split_author_string("Smith, John") == ["Smith, John"]


@pytest.mark.parametrize(
    ("raw", "year"),
    [("1948/07//", 1948), ("2016 Jan 15", 2016), ("Nov-Dec 2018", 2018), ("c2020", 2020),
     ("in press", None), ("12345", None), (2021, 2021), (99, None), (None, None)],
)
def test_year(raw: object, year: int | None) -> None:
    assert normalise_year(raw) == year


def test_pages_issn_isbn_pmid_url_language() -> None:
    assert normalise_pages("466--75") == "466-75"
    assert normalise_pages("12\u201319") == "12-19"
    assert normalise_pages(None, "379", "423") == "379-423"
    assert normalise_pages(None, "e1234", None) == "e1234"
    assert normalise_issn("03064530 (ISSN)") == "0306-4530"
    assert normalise_issn("1873-684x") == "1873-684X"
    assert normalise_issn("no issn") is None
    assert normalise_isbn("ISBN 978-3-16-148410-0") == "9783161484100"
    assert normalise_isbn("0-306-40615-2") == "0306406152"
    assert normalise_pmid("PMID: 0026524502") == "26524502"
    assert normalise_url("see https://example.org/a. and more") == "https://example.org/a"
    assert normalise_language("English") == "en"
    assert normalise_language("eng") == "en"
    assert normalise_language("Klingon") == "klingon"


def test_title_cleaning() -> None:
    assert clean_text("<p>XHTML</p> tags &amp; entities&nbsp;here") == "XHTML tags & entities here"
    assert clean_text("  many\n\tspaces   folded ") == "many spaces folded"
    assert clean_text("a <i>b</i> c") == "a b c"
    assert clean_text("H<sub>2</sub>O and <p>para</p><p>graphs</p>") == "H2O and para graphs"
    assert clean_text("&lt;b&gt;encoded&lt;/b&gt; tags") == "encoded tags"
    assert clean_text(["part one", "part two"]) == "part one part two"
    assert clean_text("   ") is None
    assert clean_text("x < y and y > z") == "x < y and y > z"


def test_keywords_split_and_deduplicated() -> None:
    assert normalise_keywords("a; b;a\nc") == ["a", "b", "c"]
    assert normalise_keywords(["Impact bonds", "impact bonds", " PbR "]) == ["Impact bonds", "PbR"]
    assert normalise_keywords(None) == []


def test_publication_types() -> None:
    assert normalise_type("JOUR") == "article"
    assert normalise_type("Journal Article") == "article"
    assert normalise_type("incollection") == "chapter"
    assert normalise_type("Book Section") == "chapter"
    assert normalise_type("inproceedings") == "conference"
    assert normalise_type("RPRT") == "report"
    assert normalise_type("phdthesis") == "thesis"
    assert normalise_type("webpage") == "web"
    assert normalise_type("something odd") == "other"


def test_make_record_keeps_raw_and_locator() -> None:
    raw = {"TI": "A <b>bold</b> title", "ZZ": "vendor"}
    record = make_record({"title": raw["TI"], "doi": "doi:10.1/X", "year": "2020"}, raw, "line 3")
    assert record.title == "A bold title"
    assert record.doi is None  # "10.1" prefix is too short to be a DOI
    assert record.raw == raw
    assert record.locator == "line 3"
    assert record.year == 2020


def test_python_list_literal_cells_are_split() -> None:
    from importers.normalise import authors_from, normalise_keywords

    assert authors_from("['Marx, Karl', 'Lindgren, Astrid']") == ["Marx, Karl", "Lindgren, Astrid"]
    assert normalise_keywords("['nudge', 'default option']") == ["nudge", "default option"]
    assert authors_from("[Anonymous]") == ["[Anonymous]"]  # not a literal: kept as a name


@pytest.mark.parametrize(("garbled", "clean"), [
    ("We don\u00e2\u20ac\u2122t know", "We don\u2019t know"),  # cp1252 reading of UTF-8
    ("mind\u00e2\u20ac\u201cbody", "mind\u2013body"),
    ("\u00c3\u00a9tude sur la sant\u00c3\u00a9", "\u00e9tude sur la sant\u00e9"),
    ("We don\u00e2\u0080\u0099t", "We don\u2019t"),  # Latin-1 reading keeps C1 characters
    ("\u00c2\u00a9 2019 Elsevier", "\u00a9 2019 Elsevier"),
    # the demo data's title: the closing quote lost its third byte (0x9D, no cp1252 character)
    ("implement \u00e2\u20ac\u0153Sepsis Six\u00e2\u20ac, back",
     "implement \u201cSepsis Six\u201d, back"),
])
def test_mojibake_is_undone(garbled: str, clean: str) -> None:
    assert clean_text(garbled) == clean


@pytest.mark.parametrize("text", [
    "caf\u00e9 cr\u00e8me \u2014 na\u00efve", "price \u20ac5", "S\u00c3O PAULO", "\u00df ok",
    "\u4e2d\u6587\u6807\u9898", "Stra\u00dfe f\u00fcr \u00c4rzte",
])
def test_clean_non_ascii_text_is_left_alone(text: str) -> None:
    assert clean_text(text) == text


def test_mojibake_repair_keeps_the_raw_field() -> None:
    garbled = "don\u00e2\u20ac\u2122t"
    record = make_record({"title": garbled}, {"TI": [garbled]}, "line 1")
    assert record.title == "don\u2019t"
    assert record.raw == {"TI": [garbled]}
