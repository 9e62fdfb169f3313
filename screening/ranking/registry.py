"""Rankers by name: the built-in ones plus any installed under the `sieve.rankers` entry points."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from .embedding_rankers import (
    EmbeddingSvmRanker,
    RankAverageRanker,
    StackedSvmRanker,
    SwitchSvmRanker,
)
from .embeddings import require_embeddings
from .rankers import FastTfidfSvmRanker, NaiveBayesRanker, TfidfLogRegRanker, TfidfSvmRanker

__all__ = ["DEFAULT_RANKER", "ENTRY_POINT_GROUP", "available_rankers", "load_ranker"]

#: Stable name of the default ranker (stored with each model run): ELAS u4's SVM with a bounded
#: fit, as good as the exact fit in paired simulations and fast at 100,000 records
#: (bench/RESULTS.md, Ranking). "tfidf-svm" stays registered as the exact ELAS u4 recipe.
DEFAULT_RANKER = "tfidf-svm-fast"
ENTRY_POINT_GROUP = "sieve.rankers"

_BUILTIN: dict[str, type] = {
    cls.name: cls
    for cls in (TfidfSvmRanker, FastTfidfSvmRanker, TfidfLogRegRanker, NaiveBayesRanker)
}
#: Rankers on [TF-IDF | sentence embeddings] features: opt-in, need the extra "embeddings".
_BUILTIN.update(
    {
        cls.name: cls
        for cls in (StackedSvmRanker, EmbeddingSvmRanker, SwitchSvmRanker, RankAverageRanker)
    }
)


def _plugins() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available_rankers(*, embeddings: bool = True) -> list[str]:
    """Names accepted by `load_ranker`, sorted (built-ins and installed plugins).

    Args:
        embeddings: include the rankers that need [TF-IDF | embeddings] features (and the
            optional extra); False lists those that rank `build_features` output.
    """
    names = set(_BUILTIN) | set(_plugins())
    if not embeddings:
        names -= {n for n, cls in _BUILTIN.items() if getattr(cls, "uses_embeddings", False)}
    return sorted(names)


def load_ranker(name: str = "default", **params: Any) -> Any:
    """Create a ranker by name.

    Args:
        name: a name from `available_rankers()`, or "default".
        **params: passed to the ranker's constructor (e.g. `random_state=0`).

    Returns:
        An unfitted scikit-learn style estimator.

    Raises:
        ValueError: if the name is unknown; the message lists the options.
        EmbeddingsUnavailable: (an ImportError) for an embedding ranker without the optional
            extra "embeddings"; the message says what to install.
    """
    key = DEFAULT_RANKER if name == "default" else name
    if key in _BUILTIN:
        cls = _BUILTIN[key]
        if getattr(cls, "uses_embeddings", False):
            require_embeddings()
        return cls(**params)
    plugins = _plugins()
    if key in plugins:
        return plugins[key].load()(**params)
    options = ", ".join(available_rankers())
    raise ValueError(f"unknown ranker {name!r}; available: {options} (or 'default')")
