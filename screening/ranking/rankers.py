"""Rankers: scikit-learn estimators that score records by how likely they are relevant.

Every ranker takes the project's whole feature matrix with `y` holding 1 (include), 0 (exclude)
or -1 (not screened yet), the semi-supervised convention of scikit-learn. Passing the unlabelled
rows lets a ranker use them (e.g. as pseudo-negatives) without another API.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import MultinomialNB
from sklearn.svm import LinearSVC
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

__all__ = [
    "FastTfidfSvmRanker",
    "NaiveBayesRanker",
    "TfidfLogRegRanker",
    "TfidfSvmRanker",
    "UNLABELLED",
]

#: Marks a record not screened yet in `y`.
UNLABELLED = -1


def _split_rows(X: Any, y: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the indices of the labelled rows, their labels and the unlabelled indices."""
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(f"y must have one entry per row of X ({X.shape[0]}), got {y.shape}")
    bad = ~np.isin(y, (0, 1, UNLABELLED))
    if bad.any():
        raise ValueError(f"y may hold only 0, 1 or -1, found {y[bad][:3].tolist()}")
    labelled = np.flatnonzero(y != UNLABELLED)
    return labelled, y[labelled].astype(np.int64), np.flatnonzero(y == UNLABELLED)


def _split(X: Any, y: Any) -> tuple[Any, np.ndarray, np.ndarray]:
    """Return the labelled rows, their labels and the indices of the unlabelled rows."""
    labelled, yl, unlabelled = _split_rows(X, y)
    return X[labelled], yl, unlabelled


def _balanced_weights(y: np.ndarray, ratio: float) -> np.ndarray:
    """Sample weights giving the includes `ratio` times the total weight of the excludes.

    The scheme of ASReview's "balanced" balancer: rare includes would otherwise be drowned.
    """
    n1, n0 = int((y == 1).sum()), int((y == 0).sum())
    w = np.where(y == 1, 1.0, n1 / (ratio * n0) if n0 else 1.0)
    return w * (len(y) / w.sum())


def _used_columns(Xl: sp.csr_matrix, n_features: int) -> tuple[np.ndarray, sp.csr_matrix]:
    """The columns the rows use and the rows restricted to them (indices remapped, still sorted).

    Remapping the index array directly is O(nnz + n_features); scipy's column fancy indexing
    took most of a retrain's time at 10,000 records x 660,000 terms.
    """
    used = np.zeros(n_features, dtype=bool)
    used[Xl.indices] = True
    cols = np.flatnonzero(used)
    remap = np.cumsum(used, dtype=np.int64) - 1
    Xc = sp.csr_matrix(
        (np.asarray(Xl.data, dtype=np.float64), remap[Xl.indices].astype(np.int32), Xl.indptr),
        shape=(Xl.shape[0], cols.size),
    )
    Xc.has_sorted_indices = Xl.has_sorted_indices
    if not Xc.has_sorted_indices:
        Xc.sort_indices()  # liblinear's input check would otherwise sort a copy
    return cols, Xc


def _subsample_excludes(
    labelled: np.ndarray, y: np.ndarray, cap: int | None, rng: np.random.RandomState
) -> np.ndarray:
    """All labelled includes plus at most `cap` labelled excludes drawn at random (rows kept)."""
    exc = np.flatnonzero(y == 0)
    if cap is None or exc.size <= cap:
        return labelled
    keep = np.sort(np.concatenate([np.flatnonzero(y == 1), rng.choice(exc, cap, replace=False)]))
    return labelled[keep]


def fit_linear(make_model: Callable[[int], Any], rng: np.random.RandomState, Xl: Any,
               yl: np.ndarray, n_features: int, ratio: float) -> tuple[np.ndarray, float]:
    """Fit a linear model on the training rows; its weights in all ``n_features`` columns.

    With one class only, the signed centroid of the rows scores by similarity to what is
    known. Otherwise ``make_model(seed)`` (seed drawn from ``rng``) is fitted with balanced
    weights on the columns the rows use: a term absent from all of them gets a zero weight anyway
    under L2, and the solver's per-fit copies shrink.
    """
    if np.unique(yl).size < 2:
        sign = 1.0 if yl[0] == 1 else -1.0
        return sign * np.asarray(Xl.mean(axis=0)).ravel(), 0.0
    model = make_model(int(rng.randint(np.iinfo(np.int32).max)))
    Xc: Any
    if sp.issparse(Xl):
        cols, Xc = _used_columns(sp.csr_matrix(Xl), n_features)
    else:
        cols, Xc = np.arange(n_features), np.asarray(Xl, dtype=np.float64)
    with warnings.catch_warnings():
        # a capped solver stops before liblinear's tolerance on purpose: the ranking needs
        # the order of the scores, which settles long before the optimum (bench/RESULTS.md)
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(Xc, yl, sample_weight=_balanced_weights(yl, ratio))
    coef = np.zeros(n_features)
    coef[cols] = np.asarray(model.coef_, dtype=np.float64).ravel()
    return coef, float(np.ravel(model.intercept_)[0])


def _sigmoid_proba(scores: np.ndarray) -> np.ndarray:
    p1 = 1.0 / (1.0 + np.exp(-np.clip(scores, -50, 50)))
    return np.column_stack([1.0 - p1, p1])


class LinearScores(ClassifierMixin, BaseEstimator):
    """Scoring of a fitted linear ranker: ``coef_`` and ``intercept_`` give every output."""

    coef_: np.ndarray
    intercept_: float

    def decision_function(self, X: Any) -> np.ndarray:
        """Signed relevance score per row (higher = more likely relevant)."""
        check_is_fitted(self, "coef_")
        return np.asarray(X @ self.coef_).ravel() + self.intercept_

    def predict_proba(self, X: Any) -> np.ndarray:
        """Pseudo-probabilities (n, 2): a logistic map of the score, monotone in it."""
        return _sigmoid_proba(self.decision_function(X))

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class (1 = include) per row."""
        return (self.decision_function(X) > 0).astype(np.int64)


class _LinearRanker(LinearScores):
    """Shared fit logic of the linear rankers; subclasses provide `_make_model`."""

    name = "linear"
    C: float
    ratio: float
    n_pseudo_negatives: int
    random_state: Any

    def _make_model(self, seed: int) -> Any:
        raise NotImplementedError

    def fit(self, X: Any, y: Any) -> _LinearRanker:
        """Fit on the labelled rows of `X` (y != -1).

        Args:
            X: feature matrix (sparse or dense), one row per record.
            y: 1 include, 0 exclude, -1 not screened.

        Returns:
            self.

        Raises:
            ValueError: if no row is labelled.
        """
        rows, yl, unlabelled = _split_rows(X, y)
        if yl.size == 0:
            raise ValueError("fit needs at least one labelled record")
        rng = check_random_state(self.random_state)
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = X.shape[1]
        cap = getattr(self, "max_excludes", None)
        if cap is not None and int((yl == 0).sum()) > cap:
            # many excludes: all includes and a random sample of the excludes bound the fit's
            # cost; the excludes are alike, so the sample carries nearly all their information
            rows = _subsample_excludes(rows, yl, cap, rng)
            yl = np.asarray(y)[rows].astype(np.int64)
        Xl = X[rows]
        k = min(self.n_pseudo_negatives, unlabelled.size)
        if k:
            # at low prevalence a random unscreened record is almost surely irrelevant; these
            # pseudo-negatives keep the model from rewarding merely common terms
            extra = rng.choice(unlabelled, size=k, replace=False)
            Xl = sp.vstack([Xl, X[extra]]) if sp.issparse(Xl) else np.vstack([Xl, X[extra]])
            yl = np.concatenate([yl, np.zeros(k, dtype=np.int64)])
        self.coef_, self.intercept_ = fit_linear(self._make_model, rng, Xl, yl, X.shape[1],
                                                 self.ratio)
        return self


class TfidfSvmRanker(_LinearRanker):
    """Linear SVM on TF-IDF features with ASReview ELAS u4's balanced weights.

    Args:
        C: inverse regularisation strength (ELAS u4: 0.11).
        ratio: total weight of includes over excludes (ELAS u4: 9.8).
        n_pseudo_negatives: random unscreened records added as excludes at each fit.
        random_state: seed or RandomState for the pseudo-negatives and the solver.
    """

    name = "tfidf-svm"

    def __init__(
        self,
        *,
        C: float = 0.11,
        ratio: float = 9.8,
        n_pseudo_negatives: int = 0,
        random_state: Any = None,
    ) -> None:
        self.C = C
        self.ratio = ratio
        self.n_pseudo_negatives = n_pseudo_negatives
        self.random_state = random_state

    def _make_model(self, seed: int) -> Any:
        # dual=True: far fewer samples than features, where liblinear's dual is ~15x faster
        return LinearSVC(
            C=self.C,
            loss="squared_hinge",
            dual=True,
            random_state=seed,
            max_iter=getattr(self, "max_iter", 1000),
            tol=getattr(self, "tol", 1e-4),
        )


class FastTfidfSvmRanker(TfidfSvmRanker):
    """ELAS u4's SVM with a bounded fit: the app's default, fast at 10,000-100,000 records.

    Same model as `TfidfSvmRanker`, but liblinear stops after `max_iter` passes and, once the
    excludes outnumber `max_excludes`, trains on all includes plus a random sample of that many
    excludes. Paired simulations on the screening sets found no loss of WSS@95 against the exact
    fit (bench/RESULTS.md, section Ranking).

    Args:
        C: inverse regularisation strength (ELAS u4: 0.11).
        ratio: total weight of includes over excludes (ELAS u4: 9.8).
        n_pseudo_negatives: random unscreened records added as excludes at each fit.
        max_iter: liblinear passes at most.
        tol: liblinear's stopping tolerance.
        max_excludes: labelled excludes used per fit at most (None: all).
        random_state: seed or RandomState for the samples and the solver.
    """

    name = "tfidf-svm-fast"

    def __init__(
        self,
        *,
        C: float = 0.11,
        ratio: float = 9.8,
        n_pseudo_negatives: int = 0,
        max_iter: int = 20,
        tol: float = 1e-4,
        max_excludes: int | None = 500,
        random_state: Any = None,
    ) -> None:
        super().__init__(
            C=C, ratio=ratio, n_pseudo_negatives=n_pseudo_negatives, random_state=random_state
        )
        self.max_iter = max_iter
        self.tol = tol
        self.max_excludes = max_excludes


class TfidfLogRegRanker(_LinearRanker):
    """L2 logistic regression on TF-IDF features, balanced like the SVM.

    Args:
        C: inverse regularisation strength.
        ratio: total weight of includes over excludes.
        n_pseudo_negatives: random unscreened records added as excludes at each fit.
        random_state: seed or RandomState.
    """

    name = "tfidf-logreg"

    def __init__(
        self,
        *,
        C: float = 1.0,
        ratio: float = 9.8,
        n_pseudo_negatives: int = 0,
        random_state: Any = None,
    ) -> None:
        self.C = C
        self.ratio = ratio
        self.n_pseudo_negatives = n_pseudo_negatives
        self.random_state = random_state

    def _make_model(self, seed: int) -> Any:
        return LogisticRegression(C=self.C, solver="liblinear", dual=True, random_state=seed)


class NaiveBayesRanker(ClassifierMixin, BaseEstimator):
    """Multinomial naive Bayes (ASReview's former default, ELAS u3), a light baseline.

    Args:
        alpha: additive smoothing (ELAS u3: 3.822).
        ratio: total weight of includes over excludes (ELAS u3: 1.2).
        random_state: accepted for a uniform interface; the model is deterministic.
    """

    name = "nb"

    def __init__(self, *, alpha: float = 3.822, ratio: float = 1.2, random_state: Any = None):
        self.alpha = alpha
        self.ratio = ratio
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> NaiveBayesRanker:
        """Fit on the labelled rows (y != -1); see `TfidfSvmRanker.fit`.

        Returns:
            self.

        Raises:
            ValueError: if no row is labelled.
        """
        Xl, yl, _ = _split(X, y)
        if yl.size == 0:
            raise ValueError("fit needs at least one labelled record")
        self.n_features_in_ = X.shape[1]
        # uniform prior: the balanced weights already set the class balance, and a class not
        # seen yet would otherwise get log(0)
        model = MultinomialNB(alpha=self.alpha, fit_prior=False)
        # partial_fit with both classes declared works even when one class is still missing
        model.partial_fit(Xl, yl, classes=[0, 1], sample_weight=_balanced_weights(yl, self.ratio))
        self.model_ = model
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (n, 2)."""
        check_is_fitted(self, "model_")
        return np.asarray(self.model_.predict_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class (1 = include) per row."""
        return (self.predict_proba(X)[:, 1] > 0.5).astype(np.int64)
