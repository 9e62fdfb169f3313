"""Active-learning ranking of records for screening (pure: no Flask, no database).

Typical use by the service::

    feats = build_features([record_text(r.title, r.abstract, r.keywords, r.journal) for r in recs])
    scores = rank(feats, training_labels(decisions, resolutions_by_row))
"""

from .embedding_rankers import (
    EmbeddingSvmRanker,
    RankAverageRanker,
    StackedSvmRanker,
    SwitchSvmRanker,
)
from .embeddings import (
    EMBEDDINGS_EXTRA,
    EmbeddingsUnavailable,
    build_embedding_features,
    embeddings_available,
)
from .features import FEATURES_VERSION, Features, build_features, features_key, record_text
from .metrics import METRIC_KEYS, order_metrics, records_to_recall, wss
from .query import calibration_sample, labels_vector, protocol_order, rank, training_labels
from .rankers import (
    UNLABELLED,
    FastTfidfSvmRanker,
    NaiveBayesRanker,
    TfidfLogRegRanker,
    TfidfSvmRanker,
)
from .registry import DEFAULT_RANKER, available_rankers, load_ranker
from .report import read_labelled_csv, write_metrics_json, write_order_csv, write_recall_svg
from .simulate import ScreeningOrder, SimulationResult, draw_priors, simulate

__all__ = [
    "DEFAULT_RANKER",
    "EMBEDDINGS_EXTRA",
    "FEATURES_VERSION",
    "METRIC_KEYS",
    "UNLABELLED",
    "EmbeddingSvmRanker",
    "EmbeddingsUnavailable",
    "FastTfidfSvmRanker",
    "Features",
    "NaiveBayesRanker",
    "RankAverageRanker",
    "ScreeningOrder",
    "SimulationResult",
    "StackedSvmRanker",
    "SwitchSvmRanker",
    "TfidfLogRegRanker",
    "TfidfSvmRanker",
    "available_rankers",
    "build_embedding_features",
    "build_features",
    "calibration_sample",
    "draw_priors",
    "embeddings_available",
    "features_key",
    "labels_vector",
    "load_ranker",
    "order_metrics",
    "protocol_order",
    "rank",
    "read_labelled_csv",
    "record_text",
    "records_to_recall",
    "simulate",
    "training_labels",
    "write_metrics_json",
    "write_order_csv",
    "write_recall_svg",
    "wss",
]
