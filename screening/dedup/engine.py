"""The deduplication pipeline: normalise, block, compare, decide, group under guard rails."""

from __future__ import annotations

import gc
import time
from collections.abc import Collection, Sequence

import numpy as np

from screening.dedup.blocking import candidate_pairs
from screening.dedup.compare import compare_pairs
from screening.dedup.groups import GuardedUnion, choose_kept
from screening.dedup.model import Decision, DedupRecord, DedupResult, Pair, Reason
from screening.dedup.normalise import Norm, normalise_all
from screening.dedup.rules import AUTO, DISTINCT, RULES, conflicts, decide

_SHOWN = ("title", "authors", "doi", "journal", "volume", "issue", "page", "abstract")
_CONFLICT_NOTES = {"doi": "different DOIs", "year": "years more than 1 apart",
                   "locator": "different volume, issue or first page",
                   "kind": "erratum/reply/comment marker, Cochrane version or preprint "
                   "differs"}


def _field_reasons(f: dict[str, np.ndarray], k: int) -> list[Reason]:
    """Per-field similarity reasons of pair ``k`` (fields missing on a side are named as such)."""
    reasons = []
    for name in _SHOWN:
        value = float(f[name][k])
        if np.isnan(value):
            reasons.append(Reason(name, None, "missing on one side"))
        elif value >= 1.0:
            reasons.append(Reason(name, 1.0, "identical"))
        elif name in ("doi", "volume", "issue", "page"):
            reasons.append(Reason(name, 0.0, "different"))
        else:
            reasons.append(Reason(name, round(value, 3), f"{value:.0%} alike"))
    gap = float(f["year_gap"][k])
    if np.isnan(gap):
        reasons.append(Reason("year", None, "missing on one side"))
    else:
        note = "same year" if gap == 0 else f"{gap:.0f} year(s) apart"
        reasons.append(Reason("year", round(max(0.0, 1 - gap / 3), 3), note))
    return reasons


def _explain(f: dict[str, np.ndarray], conf: dict[str, np.ndarray], rule: int, k: int
             ) -> list[Reason]:
    """All reasons of pair ``k``: fields, the conflicts found and the rule that fired."""
    reasons = _field_reasons(f, k)
    reasons += [Reason("conflict", None, note) for name, note in _CONFLICT_NOTES.items()
                if conf[name][k]]
    name, text = RULES[rule]
    reasons.append(Reason("rule", None, f"{name}: {text}"))
    return reasons


def _group(norms: Sequence[Norm], ids: Sequence[str], pairs: list[Pair],
           old: Sequence[bool]) -> list[list[str]]:
    """Apply auto merges strongest first under the guard rails; refused ones go to review."""
    index = {rid: i for i, rid in enumerate(ids)}
    union = GuardedUnion(norms, old)
    for pair in sorted(pairs, key=lambda p: (-p.score, p.a, p.b)):
        if pair.decision != "auto":
            continue
        clash = union.union(index[pair.a], index[pair.b])
        if clash:
            pair.decision = "review"
            pair.reasons.append(Reason("guard", None, f"automatic merge refused: {clash}"))
    groups = [sorted(ids[i] for i in members) for members in union.groups()]
    # A review pair inside one automatic group is already settled by transitivity, and one
    # question per pair of groups is enough: keep the strongest review pair between two groups.
    best: dict[tuple[int, int], Pair] = {}
    for pair in sorted(pairs, key=lambda p: (-p.score, p.a, p.b)):
        if pair.decision == "review":
            ga, gb = sorted((union.find(index[pair.a]), union.find(index[pair.b])))
            if ga != gb:
                best.setdefault((ga, gb), pair)
    pairs[:] = [p for p in pairs if p.decision == "auto"] + list(best.values())
    return sorted(groups)


def find_duplicates(
    records: Sequence[DedupRecord],
    *,
    new_ids: Collection[str] | None = None,
    workers: int = 2,
) -> DedupResult:
    """Find duplicate records: automatic merges, pairs for review, and the merged groups.

    Args:
        records: the records (ids must be unique).
        new_ids: when given, only pairs with at least one new record are compared
            (incremental import). The other records count as deduplicated already: pass one
            record per existing group; a new group never joins two of them automatically.
        workers: threads used by the vectorised string comparisons.

    Returns:
        The pairs decided "auto" or "review" (with reasons), the groups of automatic merges and
        stats (counts and seconds per phase).
    """
    ids = [r.id for r in records]
    if len(set(ids)) != len(ids):
        raise ValueError("record ids must be unique")
    # The pipeline allocates millions of small objects and no reference cycles; pausing the
    # cyclic garbage collector avoids repeated full scans of them (a third of the run time).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _run(records, ids, new_ids, workers)
    finally:
        if was_enabled:
            gc.enable()


def _run(records: Sequence[DedupRecord], ids: list[str], new_ids: Collection[str] | None,
         workers: int) -> DedupResult:
    """The phases of ``find_duplicates``, timed."""
    clock = time.perf_counter()
    stats: dict[str, float] = {"records": float(len(records))}
    # Normalising on a process pool was measured slower: pickling the results back costs more
    # than the work itself; folding texts in batches is what pays.
    norms = normalise_all(records)
    stats["seconds_normalise"] = time.perf_counter() - clock
    wanted = None if new_ids is None else set(new_ids)
    new = None if wanted is None else np.array([i in wanted for i in ids], dtype=bool)
    clock = time.perf_counter()
    index_pairs, block_stats = candidate_pairs(norms, new)
    stats.update(block_stats)
    stats["candidate_pairs"] = float(len(index_pairs))
    stats["seconds_blocking"] = time.perf_counter() - clock
    clock = time.perf_counter()
    features = compare_pairs(norms, index_pairs, workers=workers)
    stats["seconds_compare"] = time.perf_counter() - clock
    clock = time.perf_counter()
    decision, rule, scores = decide(features)
    conf = conflicts(features)
    pairs = []
    for k in np.flatnonzero(decision != DISTINCT):
        a, b = sorted((ids[index_pairs[k, 0]], ids[index_pairs[k, 1]]))
        kind: Decision = "auto" if decision[k] == AUTO else "review"
        pairs.append(Pair(a, b, round(float(scores[k]), 4), kind,
                          _explain(features, conf, int(rule[k]), int(k))))
    stats["seconds_decide"] = time.perf_counter() - clock
    clock = time.perf_counter()
    old = [False] * len(ids) if new is None else list(~new)
    groups = _group(norms, ids, pairs, old)
    stats["seconds_group"] = time.perf_counter() - clock
    pairs.sort(key=lambda p: (p.a, p.b))
    stats["auto_pairs"] = float(sum(p.decision == "auto" for p in pairs))
    stats["review_pairs"] = float(sum(p.decision == "review" for p in pairs))
    stats["groups"] = float(len(groups))
    return DedupResult(pairs=pairs, groups=groups, stats=stats)


def dedup_rows(
    records: Sequence[DedupRecord], *, workers: int = 2
) -> list[tuple[str, str, str, float | None]]:
    """Rows ``(record_id, group_id, decision, score)`` of the groups.csv of ``sieve dedup-file``.

    ``decision`` is "auto" (merged automatically into ``group_id``, the id of the kept record),
    "review" (in a candidate pair that needs a human; ``group_id`` is the record's own id) or
    "unique". ``score`` is the best score of the record's auto (or review) pairs, None if unique.
    Rows follow the order of ``records``.
    """
    result = find_duplicates(records, workers=workers)
    by_id = {r.id: r for r in records}
    kept = {rid: choose_kept([by_id[m] for m in group]) for group in result.groups for rid in group}
    best: dict[tuple[str, str], float] = {}
    for pair in result.pairs:
        for rid in (pair.a, pair.b):
            key = (rid, pair.decision)
            best[key] = max(best.get(key, 0.0), pair.score)
    rows: list[tuple[str, str, str, float | None]] = []
    for record in records:
        if record.id in kept:
            rows.append((record.id, kept[record.id], "auto", best.get((record.id, "auto"))))
        elif (record.id, "review") in best:
            rows.append((record.id, record.id, "review", best[(record.id, "review")]))
        else:
            rows.append((record.id, record.id, "unique", None))
    return rows
