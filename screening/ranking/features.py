"""Text features built once per project and reused by every retrain.

The matrix is the expensive part of active learning (ASReview re-fits its TF-IDF on every run);
building it once and keeping it in a pickle-friendly dataclass lets the service cache it and
retrain in milliseconds.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

__all__ = ["FEATURES_VERSION", "Features", "build_features", "features_key", "record_text"]

#: Bump when the recipe changes so that cached features are rebuilt (2: indices sorted).
FEATURES_VERSION = "tfidf-w12-f64-2"

_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Features:
    """A row-per-record sparse feature matrix.

    Attributes:
        matrix: CSR float64 matrix (n_records x n_features), rows L2-normalised. float64
            because the solvers and the scoring product would otherwise copy it at every retrain.
        version: the recipe that built it (compare with FEATURES_VERSION to invalidate a cache).
        vocabulary: term -> column, kept for protocol similarity and explanations.
        idf: inverse document frequency per column.
    """

    matrix: sp.csr_matrix
    version: str
    vocabulary: dict[str, int]
    idf: np.ndarray

    @property
    def n_records(self) -> int:
        """Number of rows (records)."""
        return int(self.matrix.shape[0])

    def __len__(self) -> int:
        return self.n_records

    def transform_query(self, text: str) -> sp.csr_matrix:
        """Map a free text (e.g. a protocol) into the same space, idf-weighted and normalised."""
        analyzer = TfidfVectorizer(ngram_range=(1, 2), lowercase=True).build_analyzer()
        cols: dict[int, float] = {}
        for term in analyzer(text):
            j = self.vocabulary.get(term)
            if j is not None:
                cols[j] = cols.get(j, 0.0) + 1.0
        row = sp.csr_matrix(
            (
                [(1.0 + np.log(c)) * self.idf[j] for j, c in cols.items()],
                (np.zeros(len(cols), int), list(cols.keys())),
            ),
            shape=(1, self.matrix.shape[1]),
        )
        return normalize(row)


def features_key(texts: Sequence[str]) -> str:
    """A cache key for the features of these texts.

    It changes when any text, their order or the recipe changes, so the service knows when a
    cached Features must be rebuilt.
    """
    h = hashlib.sha256(FEATURES_VERSION.encode())
    for t in texts:
        h.update(b"\x1e" + (t or "").encode("utf-8"))
    return h.hexdigest()


def record_text(
    title: str | None,
    abstract: str | None,
    keywords: Sequence[str] | str | None = None,
    journal: str | None = None,
) -> str:
    """Join the fields of one record into the text the features are built from.

    Args:
        title: the title (may be missing).
        abstract: the abstract (may be missing).
        keywords: keywords as a list or one string.
        journal: the journal name; a weak but real signal for topic.

    Returns:
        One whitespace-normalised string.
    """
    kw = " ".join(keywords) if isinstance(keywords, list | tuple) else (keywords or "")
    parts = [title or "", abstract or "", str(kw), journal or ""]
    return _SPACE.sub(" ", " ".join(p for p in parts if p)).strip()


def build_features(
    texts: Sequence[str],
    *,
    ngram_range: tuple[int, int] = (1, 2),
    min_df: int = 1,
    max_df: float = 0.95,
) -> Features:
    """Build the TF-IDF matrix of a project's records.

    Word uni- and bigrams with sublinear term frequency: the recipe of ASReview's ELAS u4, which
    trials here found hard to beat with other TF-IDF variants.

    Args:
        texts: one string per record (see `record_text`), in row order.
        ngram_range: word n-gram range.
        min_df: minimum document frequency of a term.
        max_df: drop terms in more than this share of records (near stop words).

    Returns:
        The Features (CSR float64 matrix, L2-normalised rows).

    Raises:
        ValueError: if `texts` is empty.
    """
    if len(texts) == 0:
        raise ValueError("build_features needs at least one record text")
    docs = [t or "" for t in texts]
    # max_df only makes sense once there are enough documents to estimate frequencies
    vec = TfidfVectorizer(
        ngram_range=ngram_range,
        sublinear_tf=True,
        min_df=min_df,
        max_df=max_df if len(docs) >= 20 else 1.0,
        dtype=np.float64,
    )
    try:
        matrix = vec.fit_transform(docs)
    except ValueError:
        # every text empty: one constant column keeps the shape valid for the models
        matrix = sp.csr_matrix(np.ones((len(docs), 1)))
        return Features(matrix, FEATURES_VERSION, {}, np.ones(1))
    vocab = {str(k): int(v) for k, v in vec.vocabulary_.items()}
    matrix = sp.csr_matrix(matrix)
    # sorted column indices once here, so no retrain has to sort its training rows again
    matrix.sort_indices()
    return Features(matrix, FEATURES_VERSION, vocab, vec.idf_.astype(np.float64))
