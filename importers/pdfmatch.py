"""Match PDFs to records: by DOI first, then by title similarity (rapidfuzz)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from importers.normalise import normalise_doi
from importers.pdf import PdfText

TITLE_THRESHOLD = 90.0  # token_sort_ratio between PDF metadata title and record title
TEXT_THRESHOLD = 95.0  # partial_ratio of a record title inside the PDF's first page
MIN_TITLE_CHARS = 20  # shorter titles ("Editorial") match too much text by chance
_HEAD_CHARS = 3000
_DOI_IN_TEXT = re.compile(r"10\.\d{4,9}/[^\s\"<>]+")
_NON_WORD = re.compile(r"[^\w]+")


@dataclass
class Match:
    """One PDF's outcome: the record it belongs to (None when unmatched) and how."""

    pdf: str
    record_id: int | None
    method: str  # "doi", "title" or "none"
    score: float


def _key(title: str) -> str:
    return _NON_WORD.sub(" ", title.lower()).strip()


def match_pdfs(
    pdfs: list[tuple[str, PdfText]], records: list[tuple[int, str | None, str | None]]
) -> list[Match]:
    """Find the record each PDF belongs to.

    Args:
        pdfs: (name, extracted text) per PDF.
        records: (id, doi, title) per candidate record.

    Returns:
        One `Match` per PDF in input order; unmatched PDFs have ``record_id=None`` so a UI
        can list them for manual matching.
    """
    by_doi: dict[str, int] = {}
    for rid, doi, _ in records:
        norm = normalise_doi(doi)
        if norm:
            by_doi.setdefault(norm, rid)
    titled = [(rid, _key(title)) for rid, _, title in records
              if title and len(title) >= MIN_TITLE_CHARS]
    ids = [rid for rid, _ in titled]
    keys = [key for _, key in titled]
    return [_match_one(name, pdf, by_doi, ids, keys) for name, pdf in pdfs]


def _match_one(
    name: str, pdf: PdfText, by_doi: dict[str, int], ids: list[int], keys: list[str]
) -> Match:
    dois = [pdf.doi] if pdf.doi else []
    dois += [m.group(0) for m in _DOI_IN_TEXT.finditer(pdf.text[:_HEAD_CHARS * 5])]
    for doi in dois:
        norm = normalise_doi(doi)
        if norm in by_doi:
            return Match(name, by_doi[norm], "doi", 100.0)
    if keys and pdf.title:
        hit = process.extractOne(_key(pdf.title), keys, scorer=fuzz.token_sort_ratio,
                                 score_cutoff=TITLE_THRESHOLD)
        if hit:
            return Match(name, ids[hit[2]], "title", float(hit[1]))
    if keys:
        head = _key(pdf.text[:_HEAD_CHARS])
        hit = process.extractOne(head, keys, scorer=_title_in_text, score_cutoff=TEXT_THRESHOLD)
        if hit:
            return Match(name, ids[hit[2]], "title", float(hit[1]))
    return Match(name, None, "none", 0.0)


def _title_in_text(head: str, title: str, *, score_cutoff: float | None = None,
                   **_: object) -> float:
    """How well a record title appears somewhere in the PDF's first page."""
    return float(fuzz.partial_ratio(title, head, score_cutoff=score_cutoff))
