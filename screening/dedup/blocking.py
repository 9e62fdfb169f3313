"""Blocking: which pairs of records are worth comparing at all.

Several cheap, tight keys, each catching duplicates the others miss (a changed title start, a
missing DOI, a translated subtitle). A key whose block grows past ``max_block`` records stops being
evidence of anything (a common family name in a busy year) and is skipped, so that the number of
candidate pairs grows about linearly with the number of records; the DOI key is never capped.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from itertools import combinations

import numpy as np

from screening.dedup.normalise import Norm

_AFFIX = 30  # characters of the compact title used for the prefix and suffix keys
_MIN_TITLE = 12  # shorter compact titles ("editorial") are not a usable key


def record_keys(norm: Norm, rare: Sequence[str]) -> Iterable[str]:
    """The blocking keys of one record (``rare`` = its rarest title words)."""
    if norm.doi:
        yield "d:" + norm.doi
    if len(norm.compact) >= _MIN_TITLE:
        yield "p:" + norm.compact[:_AFFIX]
        yield "s:" + norm.compact[-_AFFIX:]
    if len(rare) >= 2:
        yield "r:" + " ".join(sorted(rare[:2]))
    if norm.first_author and norm.year:
        yield f"a:{norm.first_author}:{norm.year}"
    if norm.volume and norm.first_page:
        yield f"v:{norm.volume}:{norm.first_page}"


def rarest_words(norms: Sequence[Norm]) -> list[list[str]]:
    """For each title, its two rarest words of 4+ letters in this set (rarest first)."""
    words = [sorted({w for w in n.title.split() if len(w) >= 4}) for n in norms]
    freq = Counter(w for ws in words for w in ws)
    # Ties keep alphabetical order (the lists are sorted), so the keys are deterministic.
    return [heapq.nsmallest(2, ws, key=freq.__getitem__) for ws in words]


def candidate_pairs(
    norms: Sequence[Norm], new_mask: np.ndarray | None = None, max_block: int = 40
) -> tuple[np.ndarray, dict[str, float]]:
    """Return the candidate pairs as an (n, 2) int array of record indices, i < j, sorted.

    Args:
        norms: normalised records.
        new_mask: boolean array; when given, only pairs with at least one new record are kept.
        max_block: blocks larger than this are skipped, except DOI blocks.

    Returns:
        The pairs and counts for the stats (blocks skipped as too large).
    """
    blocks: dict[str, list[int]] = defaultdict(list)
    for i, (norm, rare) in enumerate(zip(norms, rarest_words(norms), strict=True)):
        for key in record_keys(norm, rare):
            blocks[key].append(i)
    n = len(norms)
    new = None if new_mask is None else new_mask.tolist()
    codes: list[int] = []  # one int per pair (i * n + j) makes the union a fast 1-D unique
    skipped = 0
    for key, members in blocks.items():
        if len(members) < 2:
            continue
        if len(members) > max_block and not key.startswith("d:"):
            skipped += 1
            continue
        if new is not None and not any(new[i] for i in members):
            continue  # incremental mode: a block of old records only holds no new pair
        codes.extend(i * n + j for i, j in combinations(members, 2))
    unique = np.unique(np.asarray(codes, dtype=np.int64))
    pairs = np.stack([unique // n, unique % n], axis=1).reshape(-1, 2)
    if new_mask is not None:
        pairs = pairs[new_mask[pairs[:, 0]] | new_mask[pairs[:, 1]]]
    return pairs, {"blocks_skipped": float(skipped)}
