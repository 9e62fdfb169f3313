"""Full-text extraction from PDFs with pypdf, with clear errors for unusable files."""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass

from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, PyPdfError

from importers.errors import PdfError
from importers.normalise import clean_text, normalise_doi

_DOI_IN_TEXT = re.compile(r"10\.\d{4,9}/[^\s\"<>]+")
_DOI_SCAN = 20_000  # characters of the text searched for the article's own DOI
_PLACEHOLDER_TITLES = frozenset({"untitled", "microsoft word", "title", "document"})


@dataclass
class PdfText:
    """What a PDF gives: its text (pages separated by form feeds), page count, DOI, title."""

    text: str
    pages: int
    doi: str | None
    title: str | None


def extract(data: bytes, *, filename: str) -> PdfText:
    """Extract a PDF's text, DOI and title.

    Args:
        data: The PDF's bytes.
        filename: Its name, for error messages.

    Returns:
        The text and what could be found about the article.

    Raises:
        PdfError: Not a PDF, corrupt, encrypted with a password, or without a text layer
            (scanned images): the reason says which.
    """
    if not data.lstrip()[:5] == b"%PDF-":
        raise PdfError(filename, "not a PDF file (it does not start with %PDF-)")
    # pypdf reports recoverable oddities as warnings; they are not errors here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            reader = PdfReader(io.BytesIO(data))
            _unlock(reader, filename)
            texts = [page.extract_text() or "" for page in reader.pages]
            info = reader.metadata
            meta = {str(k): str(v) for k, v in (info or {}).items()}
        except PdfError:
            raise
        except (FileNotDecryptedError, DependencyError) as exc:
            raise PdfError(filename, f"encrypted PDF that cannot be opened ({exc})") from exc
        except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError,
                IndexError, RecursionError, ZeroDivisionError, AssertionError) as exc:
            raise PdfError(filename, f"corrupt or unreadable PDF ({type(exc).__name__}: "
                                     f"{exc})") from exc
    text = "\n\f".join(texts)
    if not text.strip():
        raise PdfError(filename, f"no text layer in {len(texts)} page(s): probably scanned "
                                 "images; run OCR on it and upload again")
    return PdfText(text=text, pages=len(texts), doi=_doi(meta, text), title=_title(meta))


def _unlock(reader: PdfReader, filename: str) -> None:
    """Open owner-password-only PDFs (empty user password); refuse real passwords."""
    if not reader.is_encrypted:
        return
    if not reader.decrypt(""):
        raise PdfError(filename, "the PDF is encrypted with a password; save an unprotected "
                                 "copy and upload that")


def _doi(meta: dict[str, str], text: str) -> str | None:
    for key in ("/doi", "/DOI", "/prism:doi", "/Subject", "/Title", "/Keywords"):
        doi = normalise_doi(meta.get(key))
        if doi:
            return doi
    match = _DOI_IN_TEXT.search(text[:_DOI_SCAN])
    return normalise_doi(match.group(0)) if match else None


def _title(meta: dict[str, str]) -> str | None:
    title = clean_text(meta.get("/Title"))
    if not title or len(title) < 8 or title.lower() in _PLACEHOLDER_TITLES:
        return None
    if title.lower().endswith((".doc", ".docx", ".pdf", ".tex", ".dvi")):
        return None  # a file name, not a title
    return title
