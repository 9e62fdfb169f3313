"""Every shared real export either imports with the expected counts or fails clearly.

EXPECTED holds (format, records, problems) per file, or the start of the error message.
The counts were checked independently of the importers (see the count column comments):
``grep -c '^ER  -'`` for RIS, ``grep -c '^ER$'`` for WoS, ``grep -c '^PMID-'`` for MEDLINE,
``grep -o '<record>' | wc -l`` for EndNote XML, ``@type{`` entries (minus @string, @comment,
@preamble) for BibTeX, data rows for CSV. ``records + problems`` must equal that count.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

import importers
from importers.encoding import decode

from .conftest import FORMATS_DIR, real_files

ERR = "error"
EXPECTED: dict[str, tuple[str, int, int] | tuple[str, str]] = {
    # RIS: count = lines starting "ER  -"
    "ris/ASySD__ris_export.txt": ("ris", 69, 0),
    "ris/ASySD__wos_test.ris": ("ris", 50, 0),
    "ris/asreview__baseline_empty_values.ris": ("ris", 4, 0),
    # 12 ER lines; 11 records hold nothing but N1 notes.
    "ris/asreview__baseline_tag-notes.ris": ("ris", 1, 11),
    "ris/asreview__baseline_tag-notes_zotero.ris": ("ris", 4, 0),
    "ris/asreview__baseline_tag_and_field_definitions_lists.ris": ("ris", 1, 0),
    "ris/asreview__faulty_year.ris": ("ris", 1, 0),
    "ris/asreview__ovid_zotero.ris": ("ris", 6, 0),
    "ris/asreview__pubmed_zotero.ris": ("ris", 6, 0),
    "ris/asreview__ris_issue_992.ris.txt": ("ris", 19, 0),
    "ris/asreview__scopus.ris": ("ris", 6, 0),
    "ris/rispy__example_basic.ris": ("ris", 1, 0),
    "ris/rispy__example_custom_list_tags.ris": ("ris", 1, 0),
    "ris/rispy__example_extraneous_data.ris": ("ris", 2, 0),
    "ris/rispy__example_full_without_whitespace.ris": ("ris", 2, 0),
    "ris/rispy__example_multi_unknown_tags.ris": ("ris", 1, 0),
    "ris/rispy__example_single_unknown_tag.ris": ("ris", 1, 0),
    "ris/rispy__example_urls.ris": ("ris", 4, 0),
    "ris/rispy__example_wos.ris": ("wos", 2, 0),  # WoS plain text despite the .ris ending
    "ris/synthesisr__Ovid_ris_example.ris": ("ris", 4, 0),
    "ris/synthesisr__citesource_issue_24.ris": ("ris", 17, 0),
    "endnote_txt/asreview__pubmed_endnote.txt": ("ris", 6, 0),  # RIS, not %0 tagged
    "wos/asreview__web_of_science.txt": ("ris", 10, 0),  # WoS's RIS export
    # WoS plain text: count = lines "ER"
    "wos/synthesisr__WoS_ciw_example.ciw": ("wos", 5, 0),
    "zoological_record/synthesisr__zoorec.txt": ("wos", 134, 0),
    # MEDLINE: count = lines "PMID- "
    "pubmed/metaknowledge__medline_test.medline": ("medline", 175, 0),
    # EndNote XML: count = <record> elements
    "endnote_xml/ASySD__mendeley_export.xml": ("endnote_xml", 1233, 0),
    "endnote_xml/rathbone2015_Respiratory_endnote.xml": ("endnote_xml", 1988, 0),
    # CSV/TSV: count = data rows
    "csv/ASySD__zotero_export.csv": ("csv", 1233, 0),
    "csv/asreview__embase.csv": ("csv", 6, 0),
    "csv/asreview__generic.csv": ("csv", 2, 0),
    "csv/asreview__generic_column_names_with_spaces.csv": ("csv", 2, 0),
    "csv/asreview__generic_labels_no_title.csv": ("csv", 6, 0),
    "csv/asreview__generic_tab.tsv": ("csv", 2, 0),
    "csv/asreview__record_id.csv": ("csv", 10, 0),
    "csv/litstudy__springer_link.csv": ("csv", 18, 0),
    "csv/synthesisr__eviatlas.tsv": ("csv", 1, 0),
    "scopus_csv/litstudy__scopus.csv": ("csv", 58, 0),
    # BibTeX files that cannot import, with the reason the user sees
    "bibtex/bibtex_tidy__others__jabref.bib": (ERR, "no bibtex records found"),
    "bibtex/bibtex_tidy__others__orcid-comment.bib": (ERR, "no bibtex records found"),
    "bibtex/bibtex_tidy__php-bibtex-parser__comment-jabref.bib": (ERR, "no bibtex records"),
    "bibtex/bibtex_tidy__python-bibtexparser__comments_only.bib": (ERR, "no bibtex records"),
    "bibtex/bibtex_tidy__python-bibtexparser__multiline_comments.bib": (ERR, "no bibtex rec"),
    "bibtex/bibtex_tidy__others__orcid-citation.bib.bib": (ERR, "unknown format"),  # <script>
    # Two @misc entries holding only fields x, y and year.
    "bibtex/bibtex_tidy__others__bibtex-field-error.bib": (ERR, "no usable bibtex record: 2"),
    # Parser test cases whose entries hold no title, author or DOI (e.g. only foo = bar).
    "bibtex/bibtex_tidy__php-bibtex-parser__citation-key.bib":
        (ERR, "no usable bibtex record"),
    "bibtex/bibtex_tidy__php-bibtex-parser__keywords-simple.bib":
        (ERR, "no usable bibtex record"),
    "bibtex/bibtex_tidy__php-bibtex-parser__tag-contents-escaped.bib":
        (ERR, "no usable bibtex record"),
    "bibtex/bibtex_tidy__php-bibtex-parser__tag-contents-multiple.bib":
        (ERR, "no usable bibtex record"),
    "bibtex/bibtex_tidy__php-bibtex-parser__tag-contents-slashes.bib":
        (ERR, "no usable bibtex record"),
    "bibtex/bibtex_tidy__php-bibtex-parser__tag-name-with-underscore.bib":
        (ERR, "no usable bibtex record"),
    "bibtex/bibtex_tidy__php-bibtex-parser__type-overriding.bib":
        (ERR, "no usable bibtex record"),
    "bibtex/bibtex_tidy__python-bibtexparser__crossref_cascading.bib":
        (ERR, "no usable bibtex record"),
    # BibTeX with problems: entries without title/author/DOI, @xdata containers, broken blocks
    "bibtex/bibtex_tidy__better-bibtex__Better_BibTeX.009.bib": ("bibtex", 2, 1),
    "bibtex/bibtex_tidy__biber__bibtex-aliases.bib": ("bibtex", 6, 2),
    "bibtex/bibtex_tidy__biber__datalists.bib": ("bibtex", 10, 7),
    "bibtex/bibtex_tidy__biber__related.bib": ("bibtex", 9, 3),
    "bibtex/bibtex_tidy__biber__skips.bib": ("bibtex", 10, 1),
    "bibtex/bibtex_tidy__biber__xdata.bib": ("bibtex", 10, 8),
    "bibtex/bibtex_tidy__others__bibtex-biblatex-examples.bib": ("bibtex", 90, 2),
    # 8 @entries by regex, but 2 sit inside a broken @Comment, 1 is a duplicate key and
    # 2 have no title/author: 5 records + 5 problems (3 unreadable blocks, 2 empty).
    "bibtex/bibtex_tidy__others__example1.bib": ("bibtex", 5, 5),
    "bibtex/bibtex_tidy__autocomplete-bibtex__PaglioneBibTeX.bib": ("bibtex", 55, 0),
    "bibtex/bibtex_tidy__better-bibtex__BBT_does_not_import_groups_from_JabRef_5.1_1641.bib":
        ("bibtex", 20, 0),
    "bibtex/bibtex_tidy__biber__labelalpha.bib": ("bibtex", 47, 0),
    "bibtex/bibtex_tidy__biber__uniqueness1.bib": ("bibtex", 31, 0),
    "bibtex/bibtex_tidy__biber__names_x.bib": ("bibtex", 28, 0),
    "bibtex/bibtex_tidy__biber__extradate.bib": ("bibtex", 28, 0),
    "bibtex/python_bibtexparser__gbk_test.bib": ("bibtex", 1, 0),
    "bibtex/bibtex_tidy__biber__encoding4.bib": ("bibtex", 1, 0),
}
_BIB_ENTRY = re.compile(r"^\s*@(?!string|preamble|comment)\w+\s*[{(]", re.M | re.I)


def _rel(path: Path) -> str:
    return path.relative_to(FORMATS_DIR).as_posix()


def _independent_count(rel: str, text: str) -> int | None:
    """Count records the way a person would with grep (None where no simple rule holds)."""
    fmt = EXPECTED.get(rel, ("bibtex",))[0] if rel in EXPECTED else None
    if fmt == "ris":
        return len(re.findall(r"^ER  -", text, re.M))
    if fmt == "wos":
        return len(re.findall(r"^ER\s*$", text, re.M))
    if fmt == "medline":
        return len(re.findall(r"^PMID- ", text, re.M))
    if fmt == "endnote_xml":
        return text.count("<record>")
    if rel.startswith("bibtex/") and rel != "bibtex/bibtex_tidy__others__example1.bib":
        return len(_BIB_ENTRY.findall(text))
    return None


@pytest.mark.parametrize("path", real_files(), ids=_rel)
def test_every_real_file_imports_or_fails_clearly(path: Path) -> None:
    data = path.read_bytes()
    try:
        result = importers.parse(data, filename=path.name)
    except importers.ImportFormatError as exc:
        assert str(exc).startswith(path.name)
        assert len(exc.reason) > 15
        expected = EXPECTED.get(_rel(path))
        assert expected is not None and expected[0] == ERR, f"unexpected failure: {exc}"
        assert str(expected[1]) in exc.reason
        return
    assert result.records, "a parse that returns must have records"
    for problem in result.problems:
        assert problem.locator and problem.reason
    for record in result.records:
        assert record.locator
        assert record.title or record.authors or record.doi or record.abstract
    expected = EXPECTED.get(_rel(path))
    if expected is not None:
        assert expected[0] != ERR, f"expected an error, got {len(result.records)} records"
        assert (result.format, len(result.records), len(result.problems)) == expected
    count = _independent_count(_rel(path), decode(data)[0])
    if count is not None:
        assert len(result.records) + len(result.problems) == count


def test_all_bibtex_files_import_every_entry_they_hold() -> None:
    """Files not in EXPECTED must have no problems and one record per @entry."""
    files = [p for p in real_files() if _rel(p).startswith("bibtex/") and _rel(p) not in EXPECTED]
    if not files:
        pytest.skip("shared data not available")
    for path in files:
        result = importers.parse(path.read_bytes(), filename=path.name)
        assert not result.problems, (path.name, result.problems)
        assert len(result.records) == len(_BIB_ENTRY.findall(decode(path.read_bytes())[0]))


def test_expected_table_names_existing_files() -> None:
    if not FORMATS_DIR.exists():
        pytest.skip("shared data not available")
    missing = [rel for rel in EXPECTED if not (FORMATS_DIR / rel).exists()]
    assert not missing


def test_ris_titles_agree_with_rispy() -> None:
    """rispy as an independent oracle: same records, same titles, on plain RIS files."""
    import rispy

    files = [p for p in real_files() if EXPECTED.get(_rel(p), ("",))[0] == "ris"]
    if not files:
        pytest.skip("shared data not available")
    for path in files:
        text = decode(path.read_bytes())[0]
        theirs = [e for e in rispy.loads(text, skip_unknown_tags=True)
                  if e.get("title") or e.get("primary_title") or e.get("authors")
                  or e.get("first_authors") or e.get("abstract") or e.get("notes_abstract")
                  or e.get("doi")]
        ours = importers.parse(path.read_bytes(), filename=path.name).records
        assert len(ours) == len(theirs), path.name
        for mine, entry in zip(ours, theirs, strict=True):
            title = entry.get("title") or entry.get("primary_title")
            expected = " ".join(html.unescape(title).split()) if title else None
            assert mine.title == expected, path.name
