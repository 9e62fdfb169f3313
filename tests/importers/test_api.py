"""The public API: parse, sniff, format_for_path, errors, encodings, column mapping."""

from __future__ import annotations

import io
import pickle

import pytest

import importers
from importers import ImportFormatError, format_for_path, parse, sniff

from .conftest import fixture, real_file

RIS = "TY  - JOUR\nTI  - Café outcomes – “bonds”\nAU  - Müller, Jürgen\nPY  - 2020\nER  - \n"


def test_error_names_file_line_and_reason() -> None:
    error = ImportFormatError("refs.ris", "unexpected tag", 12)
    assert str(error) == "refs.ris, line 12: unexpected tag"
    assert (error.filename, error.line, error.reason) == ("refs.ris", 12, "unexpected tag")
    assert str(ImportFormatError("refs.ris", "empty")) == "refs.ris: empty"
    assert str(pickle.loads(pickle.dumps(error))) == str(error)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "the file is empty"),
        (b"   \n\n  ", "the file is empty"),
        (b"%PDF-1.4\n...", "this is a PDF"),
        (b"PK\x03\x04nothing-else", "ZIP archive"),
        (b"just some words without structure", "unknown format"),
        (b"<html><body>a web page</body></html>", "unknown format"),
    ],
)
def test_whole_file_errors(data: bytes, reason: str) -> None:
    with pytest.raises(ImportFormatError) as info:
        parse(data, filename="upload.ris")
    assert reason in info.value.reason
    assert info.value.filename == "upload.ris"


def test_wrong_forced_format_says_what_the_file_looks_like() -> None:
    with pytest.raises(ImportFormatError, match="looks like ris"):
        parse(RIS.encode(), filename="refs.bib", format="bibtex")
    with pytest.raises(ImportFormatError, match="unknown format 'endnote'"):
        parse(RIS.encode(), filename="refs.ris", format="endnote")


def test_forced_format_that_matches_parses() -> None:
    assert parse(RIS.encode(), filename="x.txt", format="ris").records[0].year == 2020


@pytest.mark.parametrize("codec", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252"])
def test_encodings(codec: str) -> None:
    result = parse(RIS.encode(codec), filename="refs.ris")
    record = result.records[0]
    assert record.title == "Café outcomes – “bonds”"
    assert record.authors == ["Müller, Jürgen"]


def test_gbk_and_latin1() -> None:
    gbk = "TY  - JOUR\nTI  - 社会影响力债券的测试标题\nAU  - 凯撒\nER  - \n".encode("gbk")
    assert parse(gbk, filename="cn.ris").records[0].title == "社会影响力债券的测试标题"
    latin = "TY  - JOUR\nTI  - Évaluation à Montréal\nER  - \n".encode("latin-1")
    assert parse(latin, filename="fr.ris").records[0].title == "Évaluation à Montréal"


def test_undecodable_bytes_never_crash() -> None:
    data = b"TY  - JOUR\nTI  - broken \xff\xfe\x80 bytes\nER  - \n"
    assert parse(data, filename="x.ris").records[0].title.startswith("broken")


def test_sniff_uses_content_not_extension() -> None:
    assert sniff(RIS.encode(), "refs.bib") == "ris"
    assert sniff(b"@article{k, title={T}}", "refs.ris") == "bibtex"
    assert sniff(b"PMID- 1\nTI  - x\n", "x.txt") == "medline"
    assert sniff(b"FN Clarivate\nVR 1.0\nPT J\nTI x\nER\nEF\n", "x.txt") == "wos"
    assert sniff(b"%0 Journal Article\n%T x\n", "x.txt") == "endnote_tagged"
    assert sniff(b"title,abstract\nx,y\n", "x.txt") == "csv"
    assert sniff(b'[{"title": "x", "type": "book"}]', "x.txt") == "csljson"
    assert sniff(b'{"title": "x", "authors": []}\n{"title": "y"}\n', "x.txt") == "jsonl"
    assert sniff(fixture("pubmed_sample.xml"), "x.xml") == "pubmed_xml"
    assert sniff(fixture("wos_tab.txt"), "x.txt") == "wos_tab"


def test_format_for_path() -> None:
    assert format_for_path("a/refs.RIS") == "ris"
    assert format_for_path("refs.bib") == "bibtex"
    assert format_for_path("x.tsv") == "tsv"
    assert format_for_path("x.xlsx") == "xlsx"
    assert format_for_path("x.json") == "csljson"
    assert format_for_path("x.jsonl") == "jsonl"
    assert format_for_path("pubmed.nbib") == "medline"
    assert format_for_path("export.txt") == "auto"
    assert format_for_path("export.xml") == "auto"
    with pytest.raises(ValueError, match="unknown file ending"):
        format_for_path("x.docx")


def test_ris_vendor_quirks() -> None:
    result = parse(fixture("ris_vendor_quirks.ris"), filename="ovid.ris")
    first, report, no_er, last = result.records
    assert first.authors == ["Smith, J. A.", "van der Berg, Anna"]
    assert first.doi == "10.1016/j.healthpol.2015.01.001"
    assert first.abstract.endswith("ER - tag in the middle of a line and continues on a "
                                   "second line.")
    assert first.raw["ZZ"] == "unknown vendor tag kept in raw"
    assert first.locator == "line 5"
    assert report.title == "Outcomes contracting in the UK & the social outcomes partnership"
    assert report.publication_type == "report"
    assert no_er.title.startswith("A record whose ER line is missing")
    assert last.authors == ["Roe, Richard"]


def test_ris_search_strategy_after_last_record_is_ignored() -> None:
    result = parse(fixture("ris_search_strategy.ris"), filename="s.ris")
    assert [r.title for r in result.records] == ["Search strategy follows"]
    assert result.problems == []


def test_ris_continuation_keywords_are_separate() -> None:
    record = parse(real_file("ris/asreview__ris_issue_992.ris.txt"), filename="r.ris").records[0]
    assert record.keywords[:3] == ["Health Facility Administration", "Joint Commission",
                                   "Standards"]


def test_pubmed_xml() -> None:
    result = parse(fixture("pubmed_sample.xml"), filename="pubmed.xml")
    first, second = result.records
    assert first.title == "Social impact bonds: a review of outcomes contracts."
    assert first.authors == ["Fraser, Alec", "Tan, S.", "Outcomes Lab Group"]
    assert first.abstract == ("BACKGROUND: Outcome-based contracts pay for results. "
                              "METHODS: We reviewed 25 bonds.")
    assert (first.pmid, first.doi, first.year, first.pages) == (
        "31000001", "10.1016/j.socscimed.2019.04.001", 2019, "112-120")
    assert second.year == 2018 and second.doi == "10.1080/09540962.2018.1000001"


def test_xml_with_entities_is_refused() -> None:
    bomb = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>'
            b"<xml><records><record><titles><title>&a;</title></titles></record></records></xml>")
    with pytest.raises(ImportFormatError, match="entity"):
        parse(bomb, filename="bomb.xml")


def test_broken_endnote_record_is_a_problem_not_a_crash() -> None:
    data = (b"<xml><records><record><titles><title>Good one</title></titles></record>"
            b"<record><titles><title>Broken</titl></titles></record></records></xml>")
    result = parse(data, filename="lib.xml")
    assert [r.title for r in result.records] == ["Good one"]
    assert result.problems[0].locator == "record 2"
    assert "malformed XML" in result.problems[0].reason


def test_endnote_tagged() -> None:
    first, report = parse(fixture("endnote_tagged.enw"), filename="en.enw").records
    assert first.authors == ["Carter, Eleanor", "Ball, Nigel"]
    assert first.keywords == ["social impact bonds", "outcomes-based commissioning"]
    assert first.abstract == "Social impact bonds (SIBs) tie payment to outcomes achieved."
    assert first.issn == "0305-5736"
    assert report.publication_type == "report" and report.authors == ["Government Outcomes Lab"]


def test_csljson_bad_item_is_a_problem() -> None:
    result = parse(fixture("csl_sample.json"), filename="zotero.json")
    assert [r.source_id for r in result.records] == ["carter2021", "fox2018"]
    assert result.records[0].authors == ["Carter, Eleanor", "GO Lab Team"]
    assert result.records[0].volume == "49"
    assert result.problems[0].locator == "item 3"


def test_invalid_json_is_a_whole_file_error() -> None:
    with pytest.raises(ImportFormatError, match="not valid csljson"):
        parse(b'[{"title": "x",', filename="x.json")


def test_jsonl_bad_line_is_a_problem() -> None:
    data = b'{"title": "One", "authors": ["Doe, J."]}\nnot json\n{"title": "Two"}\n'
    result = parse(data, filename="x.jsonl")
    assert [r.title for r in result.records] == ["One", "Two"]
    assert result.problems[0].locator == "line 2"


def test_wos_tab_mapping() -> None:
    result = parse(fixture("wos_tab.txt"), filename="savedrecs.txt")
    assert result.format == "wos_tab"
    assert result.mapping["AF"] == "authors" and result.mapping["UT"] == "source_id"
    first = result.records[0]
    assert first.authors == ["Carter, Eleanor", "Ball, Nigel"]
    assert first.pages == "177-196"
    assert first.keywords == ["outcomes", "contracts", "SIB"]


def test_csv_mapping_is_reported_and_can_be_overridden() -> None:
    data = b"Item Title,Creators,Published,Notes\nA title,\"Doe, Jane; Roe, R.\",2019,n1\n"
    result = parse(data, filename="x.csv")
    assert result.columns == ["Item Title", "Creators", "Published", "Notes"]
    assert result.mapping == {"Item Title": "title", "Creators": "authors"}
    assert result.records[0].year is None
    fixed = dict(result.mapping, Published="year")
    again = parse(data, filename="x.csv", mapping=fixed)
    assert again.records[0].year == 2019
    assert again.records[0].authors == ["Doe, Jane", "Roe, R."]
    assert again.records[0].raw["Notes"] == "n1"
    assert again.records[0].locator == "row 2"
    with pytest.raises(ImportFormatError, match="unknown field 'titel'"):
        parse(data, filename="x.csv", mapping={"Item Title": "titel"})
    with pytest.raises(ImportFormatError, match="does not have"):
        parse(data, filename="x.csv", mapping={"Nope": "title"})


def test_csv_without_any_known_column() -> None:
    with pytest.raises(ImportFormatError, match="no column could be matched"):
        parse(b"foo,bar\n1,2\n", filename="x.csv")


def test_known_export_headers_are_mapped() -> None:
    scopus = parse(real_file("scopus_csv/litstudy__scopus.csv"), filename="scopus.csv")
    assert scopus.mapping["Source title"] == "journal"
    assert scopus.mapping["Author Keywords"] == scopus.mapping["Index Keywords"] == "keywords"
    assert scopus.mapping["Page start"] == "start_page"
    zotero = parse(real_file("csv/ASySD__zotero_export.csv"), filename="zotero.csv")
    assert zotero.mapping["Publication Title"] == "journal"
    assert zotero.mapping["Abstract Note"] == "abstract"
    assert zotero.mapping["Key"] == "source_id"
    spaced = parse(real_file("csv/asreview__generic_column_names_with_spaces.csv"),
                   filename="a.csv")
    assert spaced.mapping["abstract"] == "abstract"  # header "abstract " is stripped
    assert spaced.records[0].abstract.startswith("BACKGROUND")


def test_xlsx_read_with_mapping() -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Title", "Authors", "Publication Year", "DOI"])
    sheet.append(["Outcomes funds", "Doe, Jane; Roe, R.", 2021, "https://doi.org/10.1/ABCD"])
    sheet.append([None, None, None, None])
    out = io.BytesIO()
    book.save(out)
    result = parse(out.getvalue(), filename="covidence.xlsx")
    assert result.format == "xlsx"
    record = result.records[0]
    assert (record.title, record.year, record.authors) == ("Outcomes funds", 2021,
                                                          ["Doe, Jane", "Roe, R."])
    assert record.doi is None  # "10.1" registrant is too short to be a DOI


def test_corrupt_xlsx() -> None:
    with pytest.raises(ImportFormatError, match="XLSX"):
        parse(b"PK\x03\x04" + b"\x00" * 100 + b"xl/", filename="x.xlsx")


def test_formats_tuple() -> None:
    assert set(importers.WRITE_FORMATS) - {"tsv"} <= set(importers.FORMATS)  # tsv: read as csv
    for name in ("ris", "bibtex", "medline", "pubmed_xml", "endnote_xml", "endnote_tagged",
                 "wos", "wos_tab", "csv", "csljson", "jsonl"):
        assert name in importers.FORMATS


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (  # Rayyan CSV export
            "key,title,authors,journal,issn,volume,issue,pages,year,publisher,url,abstract,"
            "notes,doi,keywords",
            {"key": "source_id", "journal": "journal", "notes": None, "pages": "pages"},
        ),
        (  # Covidence CSV export
            "Title,Authors,Abstract,Published Year,Published Month,Journal,Volume,Issue,Pages,"
            "Accession Number,DOI,Ref,Covidence #,Study,Notes,Tags",
            {"Published Year": "year", "Covidence #": "source_id", "Ref": None,
             "Tags": "keywords", "Journal": "journal"},
        ),
        (  # EPPI-Reviewer tabular export
            "ItemId,Title,ParentTitle,ShortTitle,Year,StandardNumber,Publisher,Volume,Pages,"
            "Issue,URL,Abstract,TypeName,Authors,DOI,Keywords",
            {"ItemId": "source_id", "ParentTitle": "journal", "StandardNumber": "issn",
             "TypeName": "publication_type", "ShortTitle": None},
        ),
        (  # ASReview LAB export
            "record_id,title,abstract,authors,doi,keywords,included",
            {"record_id": "source_id", "included": None},
        ),
        (  # Web of Science Excel/CSV with full column names
            "Publication Type,Authors,Author Full Names,Article Title,Source Title,Language,"
            "Document Type,Author Keywords,Keywords Plus,Abstract,Publication Year,Volume,"
            "Issue,Start Page,End Page,DOI,Pubmed Id,UT (Unique WOS ID)",
            {"Article Title": "title", "Source Title": "journal", "Start Page": "start_page",
             "Keywords Plus": "keywords", "Pubmed Id": "pmid",
             "UT (Unique WOS ID)": "source_id"},
        ),
    ],
)
def test_column_names_of_review_tools(header: str, expected: dict[str, str | None]) -> None:
    from importers.columns import guess_mapping

    mapping = guess_mapping(header.split(","))
    for column, target in expected.items():
        assert mapping.get(column) == target, column


@pytest.mark.parametrize("fmt", ["medline", "wos", "endnote_tagged", "pubmed_xml",
                                 "endnote_xml", "csljson", "jsonl", "xlsx"])
def test_ris_forced_into_another_format_is_refused(fmt: str) -> None:
    with pytest.raises(ImportFormatError) as info:
        parse(RIS.encode(), filename="refs.ris", format=fmt)
    assert "internal error" not in info.value.reason
