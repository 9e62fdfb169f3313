"""Field normalisers and `make_record`, which every importer calls to build a `Record`.

All regular expressions are compiled once at import: `make_record` runs once per record on
files of 100,000 records.
"""

from __future__ import annotations

import ast
import html
import re
from collections.abc import Callable, Iterable
from typing import Any

from importers.errors import Problem
from importers.names import normalise_authors, split_author_string
from importers.record import Record

_WS = re.compile(r"\s+")
_TAG = re.compile(r"</?([A-Za-z][A-Za-z0-9:-]*)(?:\s[^<>]{0,200})?/?>")
# Inline markup joins letters ("H<sub>2</sub>O"); other tags separate words.
_INLINE_TAGS = frozenset({"i", "b", "u", "em", "strong", "sub", "sup", "span", "a", "scp",
                          "small", "font", "mml:mi", "mml:mn", "mml:mo"})


def _tag_gap(match: re.Match[str]) -> str:
    return "" if match.group(1).lower() in _INLINE_TAGS else " "
_DOI_BODY = re.compile(r"10\.\d{4,9}/\S+")
_DOI_TRAIL = ".,;:)]}>\"'"
_YEAR = re.compile(r"(?<!\d)(1[5-9]\d\d|20\d\d|2100)(?!\d)")
_ISSN = re.compile(r"(?<![\dX])(\d{4})-?(\d{3}[\dXx])(?![\dX])")
_ISBN = re.compile(r"(?<![\dX])(97[89][-\s]?)?(\d[-\s]?){9}[\dXx](?![\dX])")
_DIGITS = re.compile(r"\d+")
_URL = re.compile(r"https?://\S+", re.IGNORECASE)
_DASHES = re.compile(r"\s*(?:--|[\u2010-\u2015\u2212-])\s*")
_KW_SPLIT = re.compile(r"\s*[;\n]\s*")

_LANGUAGES = {
    "en": "en", "eng": "en", "english": "en", "fr": "fr", "fre": "fr", "fra": "fr",
    "french": "fr", "de": "de", "ger": "de", "deu": "de", "german": "de", "es": "es",
    "spa": "es", "spanish": "es", "pt": "pt", "por": "pt", "portuguese": "pt", "it": "it",
    "ita": "it", "italian": "it", "nl": "nl", "dut": "nl", "nld": "nl", "dutch": "nl",
    "zh": "zh", "chi": "zh", "zho": "zh", "chinese": "zh", "ja": "ja", "jpn": "ja",
    "japanese": "ja", "ru": "ru", "rus": "ru", "russian": "ru", "ko": "ko", "kor": "ko",
    "korean": "ko", "pl": "pl", "pol": "pl", "polish": "pl", "sv": "sv", "swe": "sv",
    "swedish": "sv", "tr": "tr", "tur": "tr", "turkish": "tr", "ar": "ar", "ara": "ar",
    "arabic": "ar", "fa": "fa", "per": "fa", "persian": "fa",
}

# One small vocabulary for publication types; the exported wording stays in `raw`.
PUBLICATION_TYPES = ("article", "book", "chapter", "conference", "report", "thesis", "web",
                     "dataset", "other")
_TYPE_WORDS = (
    ("chapter", ("chap", "chapter", "inbook", "incollection", "book section", "book-chapter")),
    ("conference", ("conf", "cpaper", "proceedings", "conference", "paper-conference",
                    "meeting", "abstract")),
    ("thesis", ("thes", "thesis", "dissertation")),
    ("report", ("rprt", "report", "techreport", "government", "grey")),
    ("web", ("elec", "web", "online", "blog", "www", "post", "webpage")),
    ("dataset", ("data", "dataset")),
    ("book", ("book", "ebook", "edbook", "monograph")),
    ("article", ("jour", "jfull", "ejour", "article", "journal", "review", "letter",
                 "editorial", "magazine", "newspaper", "mgzn", "news", "j", "inpress")),
)


# UTF-8 bytes shown as cp1252 or Latin-1: a lead byte followed by the right number of continuation
# bytes (0x80-0xBF) as characters.
_CONT_CHARS = "".join(sorted({bytes([b]).decode("cp1252", "ignore") or chr(b)
                              for b in range(0x80, 0xC0)} | {chr(b) for b in range(0x80, 0xA0)}))
_CONT = "[" + re.escape(_CONT_CHARS) + "]"
_MOJIBAKE = re.compile(f"[\u00c2-\u00df]{_CONT}|[\u00e0-\u00ef]{_CONT}{{2}}"
                       f"|[\u00f0-\u00f4]{_CONT}{{3}}|\u00e2\u20ac(?!{_CONT})")
# "”" is E2 80 9D; 0x9D has no cp1252 character, so many tools dropped it and left "â€"
_LOST_9D = "\u00e2\u20ac"


def _to_byte(char: str) -> int:
    # Latin-1 for U+0000-U+00FF (C1 controls included: Latin-1 mojibake), else the cp1252 byte
    code = ord(char)
    return code if code < 0x100 else char.encode("cp1252")[0]


def _undo_mojibake(match: re.Match[str]) -> str:
    text = match.group(0)
    if text == _LOST_9D:
        return "\u201d"
    try:
        return bytes(_to_byte(c) for c in text).decode("utf-8")
    except (UnicodeDecodeError, UnicodeEncodeError):
        return text


def repair_mojibake(text: str) -> str:
    """Undo UTF-8 text that was decoded as cp1252/Latin-1 ("donâ€™t" -> "don’t").

    Only whole sequences that decode as valid UTF-8 are replaced; anything else is kept as is.
    """
    return _MOJIBAKE.sub(_undo_mojibake, text)


def clean_text(value: Any) -> str | None:
    """Title/abstract cleaning: tags removed, entities decoded, mojibake undone, spaces folded.

    Args:
        value: A string, a list of strings (joined with spaces) or None.

    Returns:
        The cleaned text, or None when empty.
    """
    if value is None:
        return None
    if isinstance(value, list):
        value = " ".join(str(v) for v in value if v)
    text = str(value)
    # Fast path: most titles have neither markup nor entities.
    if "<" in text:
        text = _TAG.sub(_tag_gap, text)
    if "&" in text:
        text = html.unescape(text)
        if "<" in text:
            text = _TAG.sub(_tag_gap, text)
    if not text.isascii() and _MOJIBAKE.search(text):
        text = repair_mojibake(text)
    if (not text.isascii() or "  " in text or "\n" in text or "\t" in text
            or text[:1] == " " or text[-1:] == " "):
        text = " ".join(text.split())  # folds all whitespace, faster than a regex
    # Else the very string is returned: Record and raw then share it (memory on 100k files).
    return text or None


def normalise_doi(value: Any) -> str | None:
    """A DOI in lower case, from its first "10." onward, URL and "doi:" prefixes gone.

    Args:
        value: The exported DOI field (may be a URL, have a prefix, or be junk).

    Returns:
        ``10.NNNN/suffix`` or None when no valid DOI is present (the raw value stays in
        ``Record.raw``).
    """
    if not value:
        return None
    if isinstance(value, list):
        for item in value:
            doi = normalise_doi(item)
            if doi:
                return doi
        return None
    text = str(value).strip().lower()
    if "%2f" in text:
        text = text.replace("%2f", "/")
    match = _DOI_BODY.search(text)
    if not match:
        return None
    doi = match.group(0).rstrip(_DOI_TRAIL)
    if doi.endswith("[doi]"):
        doi = doi[:-5]
    return doi if "/" in doi and len(doi.split("/", 1)[1]) > 0 else None


def normalise_year(value: Any) -> int | None:
    """The first plausible year (1500-2100) in a date or year field."""
    if value is None:
        return None
    if isinstance(value, int):
        return value if 1500 <= value <= 2100 else None
    if isinstance(value, list):
        value = " ".join(str(v) for v in value)
    match = _YEAR.search(str(value))
    return int(match.group(1)) if match else None


def normalise_pages(value: Any = None, start: Any = None, end: Any = None) -> str | None:
    """Pages as "start-end" (dashes unified) or a single page/article number."""
    if not value and start:
        start_s, end_s = first_str(start), first_str(end)
        value = f"{start_s}-{end_s}" if end_s and end_s != start_s else start_s
    text = first_str(value)
    if not text:
        return None
    text = _DASHES.sub("-", text).strip(" -")
    return text or None


def normalise_issn(value: Any) -> str | None:
    """The first ISSN in the field as NNNN-NNNC."""
    text = first_str(value, joiner=" ")
    if not text:
        return None
    match = _ISSN.search(text)
    return f"{match.group(1)}-{match.group(2).upper()}" if match else None


def normalise_isbn(value: Any) -> str | None:
    """The first ISBN-10/13 in the field, digits (and X) only."""
    text = first_str(value, joiner=" ")
    if not text:
        return None
    match = _ISBN.search(text)
    if not match:
        return None
    return re.sub(r"[-\s]", "", match.group(0)).upper()


def normalise_pmid(value: Any) -> str | None:
    """A PubMed id: the first run of digits."""
    text = first_str(value)
    if not text:
        return None
    match = _DIGITS.search(text)
    return match.group(0).lstrip("0") or None if match else None


def normalise_url(value: Any) -> str | None:
    """The first http(s) URL in the field."""
    text = first_str(value, joiner=" ")
    if not text:
        return None
    match = _URL.search(text)
    return match.group(0).rstrip(".,;") if match else None


def normalise_language(value: Any) -> str | None:
    """ISO 639-1 code for common languages, else the lower-cased name."""
    text = first_str(value)
    if not text:
        return None
    key = text.strip().lower().split(";")[0].strip()
    return _LANGUAGES.get(key, key) or None


def list_literal(value: Any) -> Any:
    """A cell holding a Python list literal ("['Marx, Karl', 'Lindgren, A.']"), as a list.

    ASReview's CSV exports write authors and keywords that way; anything else is returned as is.
    """
    if not (isinstance(value, str) and value.startswith("[") and value.endswith("]")):
        return value
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return value
    if isinstance(parsed, list) and all(isinstance(v, str) for v in parsed):
        return [v.strip() for v in parsed if v.strip()]
    return value


def normalise_keywords(value: Any) -> list[str]:
    """Keywords as a de-duplicated list; one string is split on ";" and new lines."""
    items: Iterable[Any]
    value = list_literal(value)
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    seen: set[str] = set()
    for item in items:
        if not item:
            continue
        text = item if isinstance(item, str) else str(item)
        words = _KW_SPLIT.split(text) if (";" in text or "\n" in text) else (text,)
        for word in words:
            if "  " in word or "\t" in word or not word.isascii():
                word = " ".join(word.split())
            word = word.strip(" ,.")
            key = word.lower()
            if word and key not in seen:
                seen.add(key)
                out.append(word)
    return out


def split_keyword_string(value: str) -> list[str]:
    """Split a one-string keyword list: on ";" when present, else on "," (Zotero, BibTeX)."""
    return value.split(";") if ";" in value else value.split(",")


def join_keywords(keywords: list[str]) -> str | None:
    """Join keywords with "; " so keywords holding commas survive `split_keyword_string`."""
    if not keywords:
        return None
    text = "; ".join(keywords)
    # A lone keyword with a comma gets a trailing ";" so a reader splits on ";" only.
    return text + ";" if len(keywords) == 1 and "," in text else text


def normalise_type(value: Any) -> str | None:
    """Map an exported reference type to `PUBLICATION_TYPES` (unknown -> "other")."""
    text = first_str(value)
    if not text:
        return None
    key = text.strip().lower()
    for name, words in _TYPE_WORDS:
        if key in words:
            return name
    for name, words in _TYPE_WORDS:
        if any(len(w) > 3 and w in key for w in words):
            return name
    return "other"


def first_str(value: Any, joiner: str | None = None) -> str | None:
    """A field value as one stripped string (first item of a list unless `joiner` given)."""
    if value is None:
        return None
    if isinstance(value, list):
        items = [str(v).strip() for v in value if v is not None and str(v).strip()]
        if not items:
            return None
        value = joiner.join(items) if joiner is not None else items[0]
    text = str(value).strip()
    return text or None


def authors_from(value: Any) -> list[str]:
    """Authors from a list of names or one delimited string, normalised."""
    value = list_literal(value)
    if not value:
        return []
    if isinstance(value, str):
        return normalise_authors(split_author_string(value))
    return normalise_authors([str(v) for v in value if v])


def make_record(fields: dict[str, Any], raw: dict[str, Any], locator: str | None) -> Record:
    """Build a normalised `Record` from loosely typed field values.

    Args:
        fields: Record field name -> value as exported (string, list or None). Also accepts
            ``start_page``/``end_page`` when the file has no combined pages field.
        raw: The record's fields exactly as read, kept on the record.
        locator: Where the record is in the file ("line 12", "entry smith2020", "row 3").

    Returns:
        The normalised record.
    """
    get = fields.get
    doi = normalise_doi(get("doi"))
    url = normalise_url(get("url"))
    if doi is None and url and "doi.org/" in url:
        doi = normalise_doi(url)  # many exports give the DOI only as a resolver link
    return Record(
        title=clean_text(get("title")),
        abstract=clean_text(get("abstract")),
        authors=authors_from(get("authors")),
        year=normalise_year(get("year")),
        journal=clean_text(first_str(get("journal"))),
        volume=first_str(get("volume")),
        issue=first_str(get("issue")),
        pages=normalise_pages(get("pages"), get("start_page"), get("end_page")),
        doi=doi,
        pmid=normalise_pmid(get("pmid")),
        issn=normalise_issn(get("issn")),
        isbn=normalise_isbn(get("isbn")),
        url=url,
        keywords=normalise_keywords(get("keywords")),
        language=normalise_language(get("language")),
        publication_type=normalise_type(get("publication_type")),
        publisher=clean_text(first_str(get("publisher"))),
        source_id=first_str(get("source_id")),
        raw=raw,
        locator=locator,
    )


def collapse_tags(tags: dict[str, list[str]]) -> dict[str, Any]:
    """Tag -> values as exported: one value as a string, several as a list (a record's `raw`)."""
    return {t: v[0] if len(v) == 1 else v for t, v in tags.items()}


def records_from_tags(
    entries: Iterable[tuple[int, dict[str, list[str]]]],
    fields: Callable[[dict[str, list[str]]], dict[str, Any]],
    usable: Callable[[Record], bool],
    refusal: str,
) -> tuple[list[Record], list[Problem]]:
    """Records of a tagged format (MEDLINE, EndNote tagged, Web of Science) and its problems.

    Args:
        entries: (first line, tag -> values) per entry, as the format's reader yields them.
        fields: the format's mapping of its tags to `make_record` fields.
        usable: whether a record identifies a work (else it is skipped as a problem).
        refusal: the problem's reason for a record that is not usable.

    Returns:
        (records, problems), each problem at "line N" of its entry.
    """
    out: list[Record] = []
    problems: list[Problem] = []
    for line, tags in entries:
        record = make_record(fields(tags), collapse_tags(tags), f"line {line}")
        if usable(record):
            out.append(record)
        else:
            problems.append(Problem(f"line {line}", refusal))
    return out, problems
