"""EndNote XML (also written by Mendeley, Zotero and Rayyan): <xml><records><record>..."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from importers.errors import Problem
from importers.normalise import make_record
from importers.record import Record
from importers.xmlutil import iter_records, text_of, texts


def _fields(rec: ET.Element) -> dict[str, Any]:
    ref_type = rec.find("ref-type")
    serials = texts(rec, "isbn")
    fields: dict[str, Any] = {
        "title": text_of(rec.find("titles/title")),
        "abstract": text_of(rec.find("abstract")),
        "authors": texts(rec, "contributors/authors/author"),
        "year": text_of(rec.find("dates/year")) or text_of(rec.find("dates/pub-dates/date")),
        "journal": text_of(rec.find("periodical/full-title"))
        or text_of(rec.find("titles/secondary-title"))
        or text_of(rec.find("periodical/abbr-1")),
        "volume": text_of(rec.find("volume")),
        "issue": text_of(rec.find("issue")) or text_of(rec.find("number")),
        "pages": text_of(rec.find("pages")),
        "doi": text_of(rec.find("electronic-resource-num")) or texts(rec, "urls//url"),
        "url": texts(rec, "urls/related-urls/url") or texts(rec, "urls//url"),
        "keywords": texts(rec, "keywords/keyword"),
        "language": text_of(rec.find("language")),
        "publication_type": ref_type.get("name") if ref_type is not None else None,
        "publisher": text_of(rec.find("publisher")),
        "source_id": text_of(rec.find("rec-number")) or text_of(rec.find("accession-num")),
    }
    for serial in serials:
        digits = sum(c.isdigit() for c in serial.split("(")[0])
        fields.setdefault("isbn" if digits >= 10 else "issn", serial)
    accession = text_of(rec.find("accession-num"))
    if accession and accession.isdigit() and len(accession) <= 9:
        fields["pmid"] = accession  # Mendeley/EndNote put the PubMed id here
    return fields


def _raw(rec: ET.Element) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    for child in rec:
        if len(child) and child.tag in ("contributors", "titles", "keywords", "dates", "urls",
                                        "periodical"):
            for leaf in child.iter():
                text = text_of(leaf) if leaf.tag != "style" else None
                if text and not len([c for c in leaf if c.tag != "style"]):
                    raw.setdefault(f"{child.tag}/{leaf.tag}", []).append(text)
        else:
            text = text_of(child)
            if text:
                raw[child.tag] = text
    return {k: v[0] if isinstance(v, list) and len(v) == 1 else v for k, v in raw.items()}


def parse_text(text: str) -> tuple[list[Record], list[Problem]]:
    """Parse EndNote XML into records and problems (malformed or empty records).

    Raises:
        importers.xmlutil.XmlError: When the document is unsafe or unreadable as a whole.
    """
    out: list[Record] = []
    problems: list[Problem] = []
    for line, rec, error in iter_records(text, "record"):
        if rec is None:
            problems.append(Problem(f"record {line}", error))
            continue
        record = make_record(_fields(rec), _raw(rec), f"record {line}")
        if not (record.title or record.authors or record.doi):
            problems.append(Problem(f"record {line}", "record without title, author or DOI"))
            continue
        out.append(record)
    return out, problems
