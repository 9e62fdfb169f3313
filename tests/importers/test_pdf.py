"""PDF text extraction and PDF-to-record matching, on PDFs built in the test."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfWriter

from importers import ImportFormatError
from importers.pdf import PdfError, PdfText, extract
from importers.pdfmatch import match_pdfs
from tests.pdfs import make_pdf


def encrypt(data: bytes, user_password: str) -> bytes:
    writer = PdfWriter(clone_from=io.BytesIO(data))
    writer.encrypt(user_password, owner_password="owner-secret", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


ARTICLE = ["Social impact bonds and the outcomes they buy", "A. Author, B. Author",
           "https://doi.org/10.1234/sib.2020.001", "Abstract. We study outcome contracts."]


def test_extract_text_doi_and_title() -> None:
    pdf = extract(make_pdf(ARTICLE, title="Social impact bonds and outcomes"), filename="a.pdf")
    assert pdf.pages == 1
    assert "Social impact bonds and the outcomes they buy" in pdf.text
    assert pdf.doi == "10.1234/sib.2020.001"
    assert pdf.title == "Social impact bonds and outcomes"


def test_placeholder_metadata_title_is_ignored() -> None:
    assert extract(make_pdf(ARTICLE, title="Microsoft Word - draft3.docx"),
                   filename="a.pdf").title is None


def test_owner_only_encryption_still_opens() -> None:
    pdf = extract(encrypt(make_pdf(ARTICLE), user_password=""), filename="locked.pdf")
    assert pdf.doi == "10.1234/sib.2020.001"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (encrypt(make_pdf(ARTICLE), user_password="secret"), "encrypted with a password"),
        (make_pdf(ARTICLE)[:300], "corrupt or unreadable PDF"),
        (b"%PDF-1.7\n" + bytes(range(256)) * 4, "corrupt or unreadable PDF"),
        (make_pdf([]), "no text layer"),
        (b"<html>not a pdf</html>", "not a PDF file"),
    ],
)
def test_unusable_pdfs_give_clear_errors(data: bytes, reason: str) -> None:
    with pytest.raises(PdfError) as info:
        extract(data, filename="paper.pdf")
    assert isinstance(info.value, ImportFormatError)
    assert reason in info.value.reason
    assert str(info.value).startswith("paper.pdf: ")


def _pdf(text: str, doi: str | None = None, title: str | None = None) -> PdfText:
    return PdfText(text=text, pages=1, doi=doi, title=title)


RECORDS = [
    (1, "10.1234/SIB.2020.001", "Social impact bonds and the outcomes they buy"),
    (2, None, "Payment by results in employment services: a realist evaluation"),
    (3, "10.5555/other", "Outcomes funds for education in low-income countries"),
    (4, None, "Editorial"),
]


def test_match_by_doi_in_metadata_or_text() -> None:
    matches = match_pdfs(
        [("meta.pdf", _pdf("no doi in text", doi="10.1234/sib.2020.001")),
         ("text.pdf", _pdf("Published as https://doi.org/10.5555/OTHER. Read it."))],
        RECORDS,
    )
    assert [(m.record_id, m.method) for m in matches] == [(1, "doi"), (3, "doi")]


def test_match_by_title_when_no_doi() -> None:
    matches = match_pdfs(
        [("t.pdf", _pdf("Journal of Policy 12\nPayment by Results in Employment Services:\n"
                        "a realist evaluation\nJ. Smith")),
         ("m.pdf", _pdf("body text", title="Outcomes funds for education in low income "
                                           "countries"))],
        RECORDS,
    )
    assert [(m.record_id, m.method) for m in matches] == [(2, "title"), (3, "title")]
    assert all(m.score >= 90 for m in matches)


def test_unmatched_pdfs_are_listed() -> None:
    matches = match_pdfs(
        [("x.pdf", _pdf("Editorial. A completely different paper about fish farming.",
                        doi="10.9999/unknown"))],
        RECORDS,
    )
    assert matches[0].record_id is None and matches[0].method == "none"
    assert matches[0].pdf == "x.pdf"


def test_extracted_pdf_matches_end_to_end() -> None:
    pdf = extract(make_pdf(ARTICLE[:2] + ARTICLE[3:]), filename="a.pdf")
    assert pdf.doi is None
    assert match_pdfs([("a.pdf", pdf)], RECORDS)[0].record_id == 1
