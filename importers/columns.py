"""Automatic column mapping for tabular exports.

Recognises the headers of Scopus, WoS, Rayyan, Covidence, ASReview, Zotero, EPPI, Embase and
Springer exports, and RIS/WoS tag codes used as headers.
"""

from __future__ import annotations

import re

# Targets a column may map to: Record fields plus start/end page halves.
TARGETS = (
    "title", "abstract", "authors", "year", "journal", "volume", "issue", "pages",
    "start_page", "end_page", "doi", "pmid", "issn", "isbn", "url", "keywords", "language",
    "publication_type", "publisher", "source_id",
)
# Several columns may feed these (e.g. Scopus "Author Keywords" and "Index Keywords").
MULTI_TARGETS = frozenset({"keywords"})

# Field -> header names, best first. Headers are compared after `header_key`.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "title": ("title", "article title", "document title", "item title", "primary title",
              "title of reference", "ti", "t1", "titles"),
    "abstract": ("abstract", "abstract note", "abstracts", "ab", "n2", "summary"),
    "authors": ("authors", "author", "author full names", "author names", "first authors",
                "authors list", "author s", "creators", "af", "au", "a1", "creator"),
    "year": ("year", "publication year", "published year", "publication year s", "py",
             "pubyear", "pub year", "year published", "date", "issued", "publication date",
             "da", "y1"),
    "journal": ("journal", "source title", "publication title", "journal title",
                "journal name", "secondary title", "parenttitle", "parent title", "so",
                "jo", "jf", "t2", "journal book", "journal/book", "source", "container title"),
    "volume": ("volume", "journal volume", "vl", "vol"),
    "issue": ("issue", "journal issue", "number", "issue number", "is", "no"),
    "pages": ("pages", "page range", "pagination", "pg", "page"),
    "start_page": ("page start", "start page", "starting page", "bp", "sp"),
    "end_page": ("page end", "end page", "ending page", "ep"),
    "doi": ("doi", "item doi", "digital object identifier", "di", "do", "doi link"),
    "pmid": ("pmid", "pubmed id", "pubmed", "pm", "medline pmid", "pubmedid"),
    "issn": ("issn", "eissn", "e issn", "sn", "ei", "standardnumber", "standard number",
             "issn isbn"),
    "isbn": ("isbn", "bn"),
    "url": ("url", "link", "urls", "ur", "open url link", "full text url", "web link"),
    "keywords": ("keywords", "author keywords", "index keywords", "keywords plus",
                 "manual tags", "mesh terms", "mesh", "tags", "kw", "de", "subject",
                 "subjects", "emtree medical index terms"),
    "language": ("language", "language of original document", "la", "lang"),
    "publication_type": ("publication type", "document type", "item type",
                         "type of reference", "content type", "typename", "type name",
                         "type", "ty", "dt", "pt", "reference type"),
    "publisher": ("publisher", "pb", "pu"),
    "source_id": ("record id", "id", "key", "itemid", "item id", "covidence", "eid",
                  "ut unique wos id", "unique wos id", "ut", "accession number", "an",
                  "ref", "rayyan id"),
}
# Header codes in a WoS tab-delimited export mean something else than in RIS.
WOS_CODES: dict[str, str] = {
    "TI": "title", "AB": "abstract", "AF": "authors", "PY": "year", "SO": "journal",
    "VL": "volume", "IS": "issue", "BP": "start_page", "EP": "end_page", "DI": "doi",
    "PM": "pmid", "SN": "issn", "BN": "isbn", "DE": "keywords", "ID": "keywords",
    "LA": "language", "DT": "publication_type", "PU": "publisher", "UT": "source_id",
}

_PUNCT = re.compile(r"[^0-9a-z]+")
_LOOKUP: dict[str, tuple[str, int]] = {}
for _field, _names in SYNONYMS.items():
    for _rank, _name in enumerate(_names):
        _LOOKUP.setdefault(_PUNCT.sub(" ", _name).strip(), (_field, _rank))


def header_key(name: str) -> str:
    """Compare headers loosely: lower case, punctuation and spaces folded ("Abstract Note ")."""
    return _PUNCT.sub(" ", name.lower()).strip()


def is_wos_header(columns: list[str]) -> bool:
    """True for a WoS tab-delimited header (two-letter codes with PT/UT and SO)."""
    codes = {c.strip() for c in columns}
    return ("UT" in codes or "PT" in codes) and "SO" in codes


def guess_mapping(columns: list[str]) -> dict[str, str]:
    """Map file columns to Record fields by header name.

    Args:
        columns: The header row.

    Returns:
        column -> target for each recognised column; each target is used by its best
        matching column only (except keywords, which may come from several columns).
    """
    if is_wos_header(columns):
        return {c: WOS_CODES[c.strip()] for c in columns if c.strip() in WOS_CODES}
    best: dict[str, tuple[int, str]] = {}
    multi: dict[str, str] = {}
    for column in columns:
        hit = _LOOKUP.get(header_key(column))
        if hit is None:
            continue
        target, rank = hit
        if target in MULTI_TARGETS:
            multi[column] = target
        elif target not in best or rank < best[target][0]:
            best[target] = (rank, column)
    mapping = {column: target for target, (_, column) in best.items()}
    mapping.update(multi)
    # A separate pages column beats start/end halves; keep halves only without it.
    if "pages" in mapping.values():
        mapping = {c: t for c, t in mapping.items() if t not in ("start_page", "end_page")}
    return {c: mapping[c] for c in columns if c in mapping}
