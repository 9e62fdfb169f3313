"""Ordering records: with labels (the ranker), before any label (protocol, calibration sample)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .features import Features, build_features
from .rankers import UNLABELLED
from .registry import load_ranker

__all__ = ["calibration_sample", "labels_vector", "protocol_order", "rank", "training_labels"]

_INCLUDE_LABELS = {"include", "maybe"}


def labels_vector(n_records: int, labels: Mapping[int, int]) -> np.ndarray:
    """Turn {row: 0/1} into the y vector the rankers take (-1 where not screened).

    Raises:
        ValueError: on a row out of range or a label other than 0/1.
    """
    y = np.full(n_records, UNLABELLED, dtype=np.int64)
    for row, label in labels.items():
        if not 0 <= row < n_records:
            raise ValueError(f"label for row {row}, but there are {n_records} records")
        if label not in (0, 1):
            raise ValueError(f"label for row {row} must be 0 or 1, got {label!r}")
        y[row] = int(label)
    return y


def rank(
    features: Features,
    labels: Mapping[int, int],
    *,
    ranker: str | Any = "default",
    random_state: int = 0,
) -> np.ndarray:
    """Score every record by the ranker trained on the labels so far.

    Args:
        features: the project's features (`build_features`).
        labels: row index -> 1 (include) or 0 (exclude); see `training_labels`.
        ranker: a registered name, or an unfitted estimator.
        random_state: seed, so that the same labels give the same ranking.

    Returns:
        float64 array of scores, one per row, higher = more likely relevant.

    Raises:
        ValueError: if `labels` is empty (use `protocol_order` or `calibration_sample`).
    """
    if not labels:
        raise ValueError("rank needs at least one label; use protocol_order before any label")
    model = load_ranker(ranker, random_state=random_state) if isinstance(ranker, str) else ranker
    y = labels_vector(features.n_records, labels)
    model.fit(features.matrix, y)
    return np.asarray(model.predict_proba(features.matrix)[:, 1], dtype=np.float64)


def protocol_order(
    texts: Sequence[str],
    protocol_text: str,
    include_terms: Iterable[str] = (),
    exclude_terms: Iterable[str] = (),
    *,
    features: Features | None = None,
) -> np.ndarray:
    """Score records by similarity to the protocol before any record is labelled.

    The score is the cosine similarity of each record to the protocol text and the include terms
    (TF-IDF space), plus 0.5 per include term and minus 0.5 per exclude term found in the record
    (case-insensitive), so highlight terms the team chose weigh more than the prose.

    Args:
        texts: one text per record (as given to `build_features`).
        protocol_text: the criteria text.
        include_terms: highlight terms suggesting relevance.
        exclude_terms: highlight terms suggesting irrelevance.
        features: the prebuilt features of the same texts, if at hand.

    Returns:
        float64 scores, one per record, higher first.
    """
    inc = [t.lower() for t in include_terms if t.strip()]
    exc = [t.lower() for t in exclude_terms if t.strip()]
    feats = features if features is not None else build_features(texts)
    query = feats.transform_query(" ".join([protocol_text, *inc]))
    scores = np.asarray((feats.matrix @ query.T).todense()).ravel().astype(np.float64)
    lowered = [t.lower() for t in texts]
    for term_list, weight in ((inc, 0.5), (exc, -0.5)):
        for term in term_list:
            scores += weight * np.fromiter((term in t for t in lowered), float, len(lowered))
    return scores


def calibration_sample(n_records: int, k: int, seed: int) -> list[int]:
    """Draw `k` distinct rows uniformly at random (sorted), the same for the same seed.

    A random sample screened first gives an unbiased estimate of prevalence (used by the
    stopping rule) instead of an order biased towards the protocol.
    """
    if k < 0 or n_records < 0:
        raise ValueError("n_records and k must be non-negative")
    rng = np.random.default_rng(seed)
    return sorted(int(i) for i in rng.choice(n_records, size=min(k, n_records), replace=False))


def training_labels(
    decisions_by_record: Mapping[int, Iterable[str]],
    resolutions: Mapping[int, str] | None = None,
) -> dict[int, int]:
    """Collapse dual-screening decisions into one training label per record.

    An include (or maybe) by either reviewer counts as include until a lead resolves the
    conflict; a resolution overrides the reviewers. Records with no decision are left out.

    Args:
        decisions_by_record: key -> the current labels ("include", "exclude", "maybe") of the
            reviewers who decided it.
        resolutions: key -> the lead's final label, where resolved.

    Returns:
        key -> 1 (include) or 0 (exclude).

    Raises:
        ValueError: on an unknown label.
    """
    out: dict[int, int] = {}
    for key, labels in decisions_by_record.items():
        given = [_check_label(lab) for lab in labels]
        if given:
            out[key] = int(any(lab in _INCLUDE_LABELS for lab in given))
    for key, final in (resolutions or {}).items():
        out[key] = int(_check_label(final) in _INCLUDE_LABELS)
    return out


def _check_label(label: str) -> str:
    lab = str(label).lower()
    if lab not in {"include", "exclude", "maybe"}:
        raise ValueError(f"unknown screening label {label!r} (include, exclude or maybe)")
    return lab
