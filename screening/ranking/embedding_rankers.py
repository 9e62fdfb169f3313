"""Rankers over [TF-IDF | sentence embeddings] features (see `embeddings.stack_embeddings`).

They are plain scikit-learn estimators and need no torch themselves: they take the stacked
matrix, whose last `embedding_dim` columns are the records' unit-norm embeddings, and weight the
two blocks before a linear SVM (ELAS u4's loss, balanced weights and bounded fit of
`FastTfidfSvmRanker`). Building the stacked features needs the optional extra; `load_ranker`
checks for it when one of these is asked for by name.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.svm import LinearSVC
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .embeddings import EMBEDDING_DIM, EMBEDDINGS_EXTRA
from .rankers import (
    LinearScores,
    _split_rows,
    _subsample_excludes,
    fit_linear,
)

__all__ = [
    "EmbeddingSvmRanker",
    "RankAverageRanker",
    "StackedSvmRanker",
    "SwitchSvmRanker",
]


def _ranks(scores: np.ndarray) -> np.ndarray:
    """0-based rank of each score (ties in row order); numpy only, no scipy.stats import."""
    out = np.empty(scores.size, dtype=np.float64)
    out[np.argsort(scores, kind="stable")] = np.arange(scores.size)
    return out


def _check_embedding_block(Xl: sp.csr_matrix, split: int) -> None:
    """Fail clearly unless every row's columns from `split` on form a unit-norm embedding."""
    row_of = np.repeat(np.arange(Xl.shape[0]), np.diff(Xl.indptr))
    tail = Xl.indices >= split
    sq = np.bincount(row_of[tail], weights=Xl.data[tail] ** 2, minlength=Xl.shape[0])
    if not np.allclose(sq, 1.0, atol=1e-3):
        raise ValueError(
            "this ranker needs sentence embeddings as the last columns of X (unit-norm rows); "
            "build the features with screening.ranking.embeddings.build_embedding_features "
            f"(optional extra {EMBEDDINGS_EXTRA!r}), not build_features"
        )


class _BlockSvm(LinearScores):
    """Shared fit: a linear SVM on the labelled rows with the two column blocks weighted."""

    name = "block-svm"
    #: Tells callers (simulate, benches) to pass the stacked features.
    uses_embeddings = True
    C: float
    ratio: float
    embedding_dim: int
    max_iter: int
    tol: float
    max_excludes: int | None
    random_state: Any

    def _fit_blocks(
        self, X: Any, y: Any, rng: np.random.RandomState, w_tfidf: float, w_emb: float, C: float
    ) -> tuple[np.ndarray, float]:
        """Fit one SVM with the TF-IDF block times `w_tfidf`, the embeddings times `w_emb`.

        Returns the weights in X's own columns (so that X @ coef scores the rows) and the
        intercept.
        """
        rows, yl, _ = _split_rows(X, y)
        if yl.size == 0:
            raise ValueError("fit needs at least one labelled record")
        n_features = int(X.shape[1])
        split = n_features - self.embedding_dim
        if split <= 0:
            raise ValueError(f"X has {n_features} columns, too few for {self.embedding_dim}-d "
                             "embeddings plus TF-IDF: build the features with "
                             "screening.ranking.embeddings.build_embedding_features")
        if self.max_excludes is not None and int((yl == 0).sum()) > self.max_excludes:
            rows = _subsample_excludes(rows, yl, self.max_excludes, rng)
            yl = np.asarray(y)[rows].astype(np.int64)
        Xl = sp.csr_matrix(X[rows], dtype=np.float64, copy=True)
        if not Xl.has_sorted_indices:
            Xl.sort_indices()
        _check_embedding_block(Xl, split)
        Xl.data *= np.where(Xl.indices >= split, w_emb, w_tfidf)
        Xl.eliminate_zeros()
        col_scale = np.full(n_features, w_tfidf)
        col_scale[split:] = w_emb

        def make_model(seed: int) -> LinearSVC:
            return LinearSVC(C=C, loss="squared_hinge", dual=True, random_state=seed,
                             max_iter=self.max_iter, tol=self.tol)

        coef, intercept = fit_linear(make_model, rng, Xl, yl, n_features, self.ratio)
        return coef * col_scale, intercept

    def _weights(self, y: Any) -> tuple[float, float, float]:
        """(TF-IDF weight, embedding weight, C) for this fit."""
        raise NotImplementedError

    def fit(self, X: Any, y: Any) -> _BlockSvm:
        """Fit on the labelled rows of the stacked `X` (y: 1 include, 0 exclude, -1 not screened).

        Returns:
            self.

        Raises:
            ValueError: if no row is labelled, or X's last columns are not embeddings.
        """
        rng = check_random_state(self.random_state)
        w_tfidf, w_emb, C = self._weights(y)
        self.coef_, self.intercept_ = self._fit_blocks(X, y, rng, w_tfidf, w_emb, C)
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = X.shape[1]
        return self


class EmbeddingSvmRanker(_BlockSvm):
    """Linear SVM on the sentence embeddings alone (the TF-IDF block is ignored).

    Args:
        C: inverse regularisation strength (embeddings are dense and low-dimensional, so larger
            than ELAS u4's 0.11).
        ratio: total weight of includes over excludes (ELAS u4: 9.8).
        embedding_dim: width of the embedding block at the end of X.
        max_iter: liblinear passes at most.
        tol: liblinear's stopping tolerance.
        max_excludes: labelled excludes used per fit at most (None: all).
        random_state: seed or RandomState for the exclude sample and the solver.
    """

    name = "emb-svm"

    def __init__(
        self,
        *,
        C: float = 1.0,
        ratio: float = 9.8,
        embedding_dim: int = EMBEDDING_DIM,
        max_iter: int = 100,
        tol: float = 1e-4,
        max_excludes: int | None = 500,
        random_state: Any = None,
    ) -> None:
        self.C = C
        self.ratio = ratio
        self.embedding_dim = embedding_dim
        self.max_iter = max_iter
        self.tol = tol
        self.max_excludes = max_excludes
        self.random_state = random_state

    def _weights(self, y: Any) -> tuple[float, float, float]:
        return 0.0, 1.0, self.C


class StackedSvmRanker(_BlockSvm):
    """ELAS u4's SVM on TF-IDF with the sentence embeddings stacked beside it.

    Both blocks have unit-norm rows; `embedding_weight` sets how much the embeddings count
    against the terms (0 gives `tfidf-svm-fast`). 0.25 had the best mean WSS@95 of the weights
    tried (0.25, 0.5, 1), but no weight beat the TF-IDF default by more than the noise and every
    one lost more than 0.03 on some sets (bench/ranking_embeddings.py): an opt-in experiment.

    Args:
        C: inverse regularisation strength (ELAS u4: 0.11).
        ratio: total weight of includes over excludes (ELAS u4: 9.8).
        embedding_weight: factor on the embedding block.
        embedding_dim: width of the embedding block at the end of X.
        max_iter: liblinear passes at most.
        tol: liblinear's stopping tolerance.
        max_excludes: labelled excludes used per fit at most (None: all).
        random_state: seed or RandomState for the exclude sample and the solver.
    """

    name = "tfidf-emb-svm"

    def __init__(
        self,
        *,
        C: float = 0.11,
        ratio: float = 9.8,
        embedding_weight: float = 0.25,
        embedding_dim: int = EMBEDDING_DIM,
        max_iter: int = 20,
        tol: float = 1e-4,
        max_excludes: int | None = 500,
        random_state: Any = None,
    ) -> None:
        self.C = C
        self.ratio = ratio
        self.embedding_weight = embedding_weight
        self.embedding_dim = embedding_dim
        self.max_iter = max_iter
        self.tol = tol
        self.max_excludes = max_excludes
        self.random_state = random_state

    def _weights(self, y: Any) -> tuple[float, float, float]:
        return 1.0, self.embedding_weight, self.C


class SwitchSvmRanker(StackedSvmRanker):
    """TF-IDF alone until `switch_at` includes are labelled, then TF-IDF + embeddings.

    Args:
        switch_at: labelled includes from which the embeddings are stacked in.
        embedding_weight: factor on the embedding block once switched (measured at 1.0).
        C, ratio, embedding_dim, max_iter, tol, max_excludes, random_state:
            as in `StackedSvmRanker`.
    """

    name = "tfidf-emb-switch"

    def __init__(
        self,
        *,
        switch_at: int = 10,
        C: float = 0.11,
        ratio: float = 9.8,
        embedding_weight: float = 1.0,
        embedding_dim: int = EMBEDDING_DIM,
        max_iter: int = 20,
        tol: float = 1e-4,
        max_excludes: int | None = 500,
        random_state: Any = None,
    ) -> None:
        super().__init__(C=C, ratio=ratio, embedding_weight=embedding_weight,
                         embedding_dim=embedding_dim, max_iter=max_iter, tol=tol,
                         max_excludes=max_excludes, random_state=random_state)
        self.switch_at = switch_at

    def _weights(self, y: Any) -> tuple[float, float, float]:
        n_inc = int((np.asarray(y) == 1).sum())
        return 1.0, (self.embedding_weight if n_inc >= self.switch_at else 0.0), self.C


class RankAverageRanker(_BlockSvm):
    """Mean of the ranks given by the TF-IDF SVM and by the embedding SVM.

    Args:
        C: the TF-IDF SVM's C (ELAS u4: 0.11).
        embedding_C: the embedding SVM's C.
        ratio: total weight of includes over excludes (ELAS u4: 9.8).
        embedding_dim: width of the embedding block at the end of X.
        max_iter: liblinear passes at most.
        tol: liblinear's stopping tolerance.
        max_excludes: labelled excludes used per fit at most (None: all).
        random_state: seed or RandomState for the exclude samples and the solvers.
    """

    name = "tfidf-emb-rankavg"

    def __init__(
        self,
        *,
        C: float = 0.11,
        embedding_C: float = 1.0,
        ratio: float = 9.8,
        embedding_dim: int = EMBEDDING_DIM,
        max_iter: int = 20,
        tol: float = 1e-4,
        max_excludes: int | None = 500,
        random_state: Any = None,
    ) -> None:
        self.C = C
        self.embedding_C = embedding_C
        self.ratio = ratio
        self.embedding_dim = embedding_dim
        self.max_iter = max_iter
        self.tol = tol
        self.max_excludes = max_excludes
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> RankAverageRanker:
        """Fit both SVMs on the labelled rows of the stacked `X`; see `StackedSvmRanker.fit`.

        Returns:
            self.
        """
        rng = check_random_state(self.random_state)
        self.coef_, self.intercept_ = self._fit_blocks(X, y, rng, 1.0, 0.0, self.C)
        self.embedding_coef_, self.embedding_intercept_ = self._fit_blocks(
            X, y, rng, 0.0, 1.0, self.embedding_C
        )
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = X.shape[1]
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Mean rank of each row under the two models, scaled to 0..1 (higher = more relevant)."""
        check_is_fitted(self, "embedding_coef_")
        a = np.asarray(X @ self.coef_).ravel()
        b = np.asarray(X @ self.embedding_coef_).ravel()
        return (_ranks(a) + _ranks(b)) / (2.0 * max(1, a.size))

    def predict(self, X: Any) -> np.ndarray:
        """1 for rows both models score as include."""
        check_is_fitted(self, "embedding_coef_")
        a = np.asarray(X @ self.coef_).ravel() + self.intercept_
        b = np.asarray(X @ self.embedding_coef_).ravel() + self.embedding_intercept_
        return ((a > 0) & (b > 0)).astype(np.int64)
