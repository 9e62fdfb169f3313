"""Turn uploaded bytes into text without ever failing on a byte."""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

# Checked longest first so a UTF-32 BOM is not mistaken for UTF-16.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# charset-normalizer looks at samples; a bounded prefix keeps detection fast on big files.
_SAMPLE = 256 * 1024
# The encodings exports really use; an open list lets charset-normalizer pick Korean or
# Japanese code pages for short Chinese or Western files.
_CANDIDATES = ["cp1252", "gb18030", "cp1251", "latin_1"]
# Emacs/Python style hint ("-*- coding: latin-2-unix -*-") that some BibTeX files carry.
_HINT = re.compile(rb"coding[:=]\s*([-\w.]+)")


def _utf16_without_bom(data: bytes) -> str | None:
    """Guess BOM-less UTF-16 from the NUL bytes that ASCII text leaves in every other byte."""
    head = data[:4096]
    if len(head) < 4:
        return None
    even_nuls = head[0::2].count(0)
    odd_nuls = head[1::2].count(0)
    half = len(head) // 2
    if odd_nuls > half * 0.6 and even_nuls < half * 0.1:
        return "utf-16-le"
    if even_nuls > half * 0.6 and odd_nuls < half * 0.1:
        return "utf-16-be"
    return None


def decode(data: bytes) -> tuple[str, str]:
    r"""Decode bytes to text, detecting the encoding.

    Order: a byte-order mark; BOM-less UTF-16; strict UTF-8; then charset-normalizer's best
    guess (cp1252, GBK, Latin-1, ...). Undecodable bytes become U+FFFD instead of raising.

    Args:
        data: The file's bytes.

    Returns:
        The text (BOM removed, newlines normalised to ``\\n``) and the encoding name used.
    """
    encoding = None
    for bom, name in _BOMS:
        if data.startswith(bom):
            encoding = name
            break
    if encoding is None:
        encoding = _utf16_without_bom(data)
    if encoding is None:
        try:
            return _clean(data.decode("utf-8")), "utf-8"
        except UnicodeDecodeError:
            encoding = _guess(data)
    return _clean(data.decode(encoding, errors="replace")), encoding


def _guess(data: bytes) -> str:
    """Use a coding hint, else ask charset-normalizer, else cp1252 (the usual Windows export)."""
    hint = _HINT.search(data[:300])
    if hint:
        name = hint.group(1).decode("ascii", "replace").lower()
        for suffix in ("-unix", "-dos", "-mac"):
            name = name.removesuffix(suffix)
        try:
            return codecs.lookup(name.replace("latin-", "latin")).name
        except LookupError:
            pass
    best = from_bytes(data[:_SAMPLE], cp_isolation=_CANDIDATES).best()
    name = best.encoding if best is not None else "cp1252"
    try:
        codecs.lookup(name)
    except LookupError:
        return "cp1252"
    # A GBK/cp1252 guess must still survive the whole file; replacement covers the rest.
    return name


def _clean(text: str) -> str:
    r"""Drop a stray BOM and unify line endings so every parser sees plain ``\\n``."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text
