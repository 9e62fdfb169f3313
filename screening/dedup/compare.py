"""Field-by-field similarity of candidate pairs, vectorised with rapidfuzz.process.cpdist.

Every feature is a float array with one value per pair; NaN means "at least one side is missing",
which is never counted as a conflict.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from rapidfuzz import fuzz, process

from screening.dedup.normalise import Norm

FIELDS = ("title", "title_set", "authors", "year_gap", "journal", "volume", "issue", "page",
          "doi", "abstract", "title_length", "preprint_differ", "sparse", "markers_differ",
          "cochrane_differ")


def _text_sim(
    left: list[str], right: list[str], scorer: Callable[..., float], workers: int
) -> np.ndarray:
    """Similarity 0..1 of aligned string lists, NaN where either side is empty."""
    sim = process.cpdist(left, right, scorer=scorer, workers=workers, dtype=np.float32) / 100.0
    missing = np.array([not a or not b for a, b in zip(left, right, strict=True)], dtype=bool)
    sim = sim.astype(np.float64)
    sim[missing] = np.nan
    return sim


def _equal(left: list[str], right: list[str]) -> np.ndarray:
    """1.0 where equal, 0.0 where different, NaN where either side is empty."""
    return np.array([(np.nan if not a or not b else float(a == b))
                     for a, b in zip(left, right, strict=True)], dtype=np.float64)


def journal_similarity(a: str, b: str) -> float:
    """1.0 when one journal name abbreviates the other ("curr opin lipidol"), else fuzzy ratio."""
    if not a or not b:
        return float("nan")
    wa, wb = a.split(), b.split()
    if len(wa) == len(wb) and all(
        x.startswith(y) or y.startswith(x) for x, y in zip(wa, wb, strict=True)
    ):
        return 1.0
    return max(fuzz.ratio(a, b), 0.9 * fuzz.token_set_ratio(a, b)) / 100.0


def compare_pairs(
    norms: Sequence[Norm], pairs: np.ndarray, workers: int = 2
) -> dict[str, np.ndarray]:
    """Compute every feature of ``FIELDS`` for the (n, 2) index array ``pairs``."""
    left = [norms[i] for i in pairs[:, 0]]
    right = [norms[j] for j in pairs[:, 1]]

    def column(name: str) -> tuple[list[str], list[str]]:
        return [getattr(n, name) for n in left], [getattr(n, name) for n in right]

    out: dict[str, np.ndarray] = {}
    out["title"] = _text_sim(*column("title"), fuzz.ratio, workers)
    out["title_set"] = _text_sim(*column("title"), fuzz.token_set_ratio, workers)
    # token_set_ratio forgives truncated lists ("et al.") but calls one author a perfect match
    # for any list holding that name; so it is used only where the first authors agree.
    loose = _text_sim(*column("authors"), fuzz.token_set_ratio, workers)
    strict = _text_sim(*column("authors"), fuzz.token_sort_ratio, workers)
    same_first = np.array([bool(a.first_tokens & b.first_tokens)
                           for a, b in zip(left, right, strict=True)])
    out["authors"] = np.where(same_first, loose, strict)
    out["abstract"] = _text_sim(*column("abstract"), fuzz.ratio, workers)
    out["year_gap"] = np.array([np.nan if a.year is None or b.year is None else abs(a.year - b.year)
                                for a, b in zip(left, right, strict=True)], dtype=np.float64)
    out["journal"] = np.array([journal_similarity(a.journal, b.journal)
                               for a, b in zip(left, right, strict=True)], dtype=np.float64)
    for name, attr in (("volume", "volume"), ("issue", "issue"), ("page", "first_page"),
                       ("doi", "doi")):
        out[name] = _equal(*column(attr))
    # A typo in the first page ("2297-2108" vs "2097-2108") is no conflict if the last agrees.
    same_last = _equal(*column("last_page")) == 1
    out["page"][(out["page"] == 0) & same_last] = np.nan
    out["title_length"] = np.array([min(len(a.compact), len(b.compact))
                                    for a, b in zip(left, right, strict=True)], dtype=np.float64)
    out["preprint_differ"] = np.array([float(a.preprint != b.preprint)
                                       for a, b in zip(left, right, strict=True)])
    out["sparse"] = np.array([float(min(a.filled, b.filled) <= 2)
                              for a, b in zip(left, right, strict=True)])
    out["markers_differ"] = np.array([float(a.markers != b.markers)
                                      for a, b in zip(left, right, strict=True)])
    out["cochrane_differ"] = np.array([float(bool(a.cochrane) and bool(b.cochrane)
                                             and a.cochrane != b.cochrane)
                                       for a, b in zip(left, right, strict=True)])
    return out
