"""Safe, forgiving XML reading shared by the EndNote XML and PubMed XML importers."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator

_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")


class XmlError(ValueError):
    """The XML is unsafe (entity declarations) or broken beyond record-level recovery."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


def text_of(elem: ET.Element | None) -> str | None:
    """All text inside an element (EndNote wraps values in <style> runs), or None."""
    if elem is None:
        return None
    text = "".join(elem.itertext()).strip()
    return text or None


def texts(parent: ET.Element | None, path: str) -> list[str]:
    """The non-empty texts of every element matching `path` under `parent`."""
    if parent is None:
        return []
    return [t for t in (text_of(e) for e in parent.iterfind(path)) if t]


def iter_records(text: str, tag: str) -> Iterator[tuple[int, ET.Element | None, str]]:
    """Yield (ordinal, element or None, error) for each ``<tag>`` element in the document.

    Exports often hold the whole document on one line, so records are located by their
    1-based position ("record 12") rather than by line.

    The whole document is parsed first; if it is malformed, each ``<tag>...</tag>`` slice is
    parsed alone so one broken record does not lose the others (its element is None and the
    error says why).

    Raises:
        XmlError: When the document declares entities (refused: entity-expansion attacks).
    """
    if "<!ENTITY" in text:
        raise XmlError("XML entity declarations are not accepted")
    body = _DECL.sub("", text, count=1)
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        yield from _salvage(text, tag, exc)
        return
    for number, elem in enumerate(root.iter(tag), 1):
        yield number, elem, ""


def _salvage(
    text: str, tag: str, error: ET.ParseError
) -> Iterator[tuple[int, ET.Element | None, str]]:
    pattern = re.compile(rf"<{tag}[\s>].*?</{tag}>", re.DOTALL)
    found = False
    for number, match in enumerate(pattern.finditer(text), 1):
        found = True
        try:
            yield number, ET.fromstring(match.group(0)), ""
        except ET.ParseError as exc:
            yield number, None, f"malformed XML: {exc}"
    if not found:
        raise XmlError(f"malformed XML: {error}", error.position[0] if error.position else None)
