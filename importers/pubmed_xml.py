"""PubMed XML (efetch / "Save as XML"): <PubmedArticleSet><PubmedArticle>..."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from importers.errors import Problem
from importers.normalise import make_record
from importers.record import Record
from importers.xmlutil import iter_records, text_of, texts


def _authors(article: ET.Element | None) -> list[str]:
    names: list[str] = []
    if article is None:
        return names
    for author in article.iterfind("AuthorList/Author"):
        last = text_of(author.find("LastName"))
        given = text_of(author.find("ForeName")) or text_of(author.find("Initials"))
        collective = text_of(author.find("CollectiveName"))
        if last:
            names.append(f"{last}, {given}" if given else last)
        elif collective:
            names.append(collective)
    return names


def _abstract(article: ET.Element | None) -> str | None:
    if article is None:
        return None
    parts = []
    for elem in article.iterfind("Abstract/AbstractText"):
        label, body = elem.get("Label"), text_of(elem)
        if body:
            parts.append(f"{label}: {body}" if label else body)
    return " ".join(parts) or None


def _doi(item: ET.Element) -> str | None:
    for elem in item.iter("ELocationID"):
        if elem.get("EIdType") == "doi":
            return text_of(elem)
    for elem in item.iter("ArticleId"):
        if elem.get("IdType") == "doi":
            return text_of(elem)
    return None


def _fields(item: ET.Element) -> dict[str, Any]:
    citation = item.find("MedlineCitation")
    article = citation.find("Article") if citation is not None else item.find("BookDocument")
    pmid = text_of(item.find(".//PMID"))
    journal = article.find("Journal") if article is not None else None
    issue = journal.find("JournalIssue") if journal is not None else None
    date = issue.find("PubDate") if issue is not None else None
    title = article.find("ArticleTitle") if article is not None else None
    if title is None and article is not None:
        title = article.find("Book/BookTitle")
    return {
        "title": text_of(title),
        "abstract": _abstract(article),
        "authors": _authors(article),
        "year": text_of(date.find("Year")) or text_of(date.find("MedlineDate"))
        if date is not None else None,
        "journal": text_of(journal.find("Title")) if journal is not None else None,
        "volume": text_of(issue.find("Volume")) if issue is not None else None,
        "issue": text_of(issue.find("Issue")) if issue is not None else None,
        "pages": text_of(article.find("Pagination/MedlinePgn")) if article is not None else None,
        "doi": _doi(item),
        "pmid": pmid,
        "issn": text_of(journal.find("ISSN")) if journal is not None else None,
        "keywords": texts(citation, "KeywordList/Keyword")
        + texts(citation, "MeshHeadingList/MeshHeading/DescriptorName"),
        "language": text_of(article.find("Language")) if article is not None else None,
        "publication_type": "article" if citation is not None else "book",
        "source_id": pmid,
    }


def parse_text(text: str) -> tuple[list[Record], list[Problem]]:
    """Parse PubMed XML into records and problems.

    Raises:
        importers.xmlutil.XmlError: When the document is unsafe or unreadable as a whole.
    """
    out: list[Record] = []
    problems: list[Problem] = []
    items = list(iter_records(text, "PubmedArticle"))
    if not items:
        items = list(iter_records(text, "PubmedBookArticle"))
    for line, item, error in items:
        if item is None:
            problems.append(Problem(f"record {line}", error))
            continue
        fields = _fields(item)
        raw = {"xml": ET.tostring(item, encoding="unicode")}
        record = make_record(fields, raw, f"record {line}")
        if not (record.title or record.pmid):
            problems.append(Problem(f"record {line}", "article without PMID or title"))
            continue
        out.append(record)
    return out, problems
