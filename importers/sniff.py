"""Recognise an export's format from its content; the file ending only breaks ties."""

from __future__ import annotations

import json
import re
from pathlib import PurePath

from importers.columns import is_wos_header
from importers.encoding import decode

_HEAD = 64 * 1024  # characters looked at: enough for dozens of records of any format
_SIGNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("ris", re.compile(r"^TY {1,2}- ?", re.MULTILINE)),
    ("medline", re.compile(r"^PMID- ", re.MULTILINE)),
    ("endnote_tagged", re.compile(r"^%0 ", re.MULTILINE)),
    ("wos", re.compile(r"^PT [A-Z]\s*$", re.MULTILINE)),
    ("bibtex", re.compile(r"^\s*@[A-Za-z]+\s*[{(]", re.MULTILINE)),
)
_ENDINGS = {
    ".ris": "ris", ".bib": "bibtex", ".bibtex": "bibtex", ".csv": "csv", ".tsv": "tsv",
    ".xlsx": "xlsx", ".json": "csljson", ".jsonl": "jsonl", ".ndjson": "jsonl",
    ".nbib": "medline", ".medline": "medline", ".ciw": "wos", ".enw": "endnote_tagged",
    ".txt": "auto", ".xml": "auto",
}
_JSONL_KEYS = frozenset({"authors", "source_id", "raw", "publication_type"})


def format_for_path(path: str | PurePath) -> str:
    """The format a file ending stands for.

    ``.txt`` and ``.xml`` give "auto": MEDLINE, WoS, RIS and EndNote all save ``.txt``, and
    both PubMed and EndNote save ``.xml``, so the content must decide.

    Args:
        path: A file name or path.

    Returns:
        A name from `importers.FORMATS`, "tsv" (read as csv, written tab-separated) or "auto".

    Raises:
        ValueError: For an ending no format uses.
    """
    suffix = PurePath(path).suffix.lower()
    try:
        return _ENDINGS[suffix]
    except KeyError:
        known = " ".join(sorted(_ENDINGS))
        raise ValueError(f"{PurePath(path).name}: unknown file ending {suffix!r} "
                         f"(known: {known})") from None


def sniff_bytes(data: bytes) -> str | None:
    """Formats recognisable from the raw bytes (binary containers)."""
    if data[:4] == b"PK\x03\x04":
        return "xlsx" if b"xl/" in data[:65536] or b"[Content_Types].xml" in data[:4096] \
            else "zip"
    if data.lstrip()[:5] == b"%PDF-":
        return "pdf"
    return None


def sniff_text(text: str, filename: str = "") -> str:
    """The format of decoded text: a name from `importers.FORMATS` or "unknown"."""
    head = text[:_HEAD].lstrip()
    if not head:
        return "empty"
    if head[0] == "<":
        if "<PubmedArticle" in head or "<PubmedBookArticle" in head:
            return "pubmed_xml"
        if "<record" in head and ("<records" in head or "<xml" in head):
            return "endnote_xml"
        return "unknown"
    if head[0] in "[{":
        return _sniff_json(head)
    counts = {name: len(pattern.findall(head)) for name, pattern in _SIGNS}
    best = max(counts.values())
    if best:
        tied = [name for name, count in counts.items() if count == best]
        hint = _ENDINGS.get(PurePath(filename).suffix.lower())
        return hint if hint in tied else tied[0]
    return _sniff_table(head)


def _sniff_json(head: str) -> str:
    first = head.split("\n", 1)[0].strip()
    try:
        item = json.loads(first)
    except ValueError:
        return "csljson"  # a multi-line JSON document
    if isinstance(item, dict) and (_JSONL_KEYS & item.keys() or "\n" in head.strip()):
        return "jsonl"
    return "csljson"


def _sniff_table(head: str) -> str:
    header = head.split("\n", 1)[0]
    if header.count("\t") >= 1:
        return "wos_tab" if is_wos_header(header.split("\t")) else "csv"
    if header.count(",") >= 1 or header.count(";") >= 1:
        return "csv"
    return "unknown"


def sniff(data: bytes, filename: str) -> str:
    """Guess a file's format from its content (the ending is only a tie-break).

    Args:
        data: The file's bytes.
        filename: Its name, used only when two formats look equally likely.

    Returns:
        A name from `importers.FORMATS`, or "pdf", "zip", "empty" or "unknown".
    """
    found = sniff_bytes(data)
    if found:
        return found
    text, _ = decode(data[: _HEAD * 4])
    return sniff_text(text, filename)
