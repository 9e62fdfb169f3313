"""Pair-based evaluation of a DedupResult against true groups (used by dedup_bench and tests).

Definitions (also in bench/RESULTS.md):
- true duplicate pairs: every unordered pair of records sharing a true group;
- automatic recall: share of true pairs whose two records end in the same automatic group;
- recall with the queue: share of true pairs joined once the lead accepts exactly the true
  pairs of the review queue (components of automatic merges plus accepted review pairs);
- false merges: records wrongly merged = sum over automatic groups of (size - the largest number
  of its records sharing one true group), as ASySD counts false positives; false pairs = pairs
  in one automatic group with different true groups;
- record sensitivity (ASySD's measure): redundant records removed correctly / redundant records,
  where redundant = records minus true groups and an automatic group removes (the largest number
  of its records sharing one true group - 1) correctly.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from itertools import combinations

from screening.dedup import DedupResult


def _components(ids: list[str], edges: list[tuple[str, str]]) -> dict[str, str]:
    parent = {i: i for i in ids}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {i: find(i) for i in ids}


def true_pairs(truth: dict[str, str]) -> set[tuple[str, str]]:
    """All unordered (sorted) pairs of records sharing a true group."""
    groups: dict[str, list[str]] = defaultdict(list)
    for rid, g in truth.items():
        groups[g].append(rid)
    return {tuple(sorted(p)) for m in groups.values() for p in combinations(m, 2)}  # type: ignore


def evaluate(result: DedupResult, truth: dict[str, str]) -> dict[str, object]:
    """Figures and the lists of missed and falsely merged pairs."""
    ids = list(truth)
    gold = true_pairs(truth)
    auto_of = {rid: g[0] for g in result.groups for rid in g}
    review = [(p.a, p.b) for p in result.pairs if p.decision == "review"]
    accepted = [e for e in review if truth[e[0]] == truth[e[1]]]
    autos = [(g[0], rid) for g in result.groups for rid in g[1:]]
    with_queue = _components(ids, autos + accepted)
    auto_hit = {p for p in gold if p[0] in auto_of and auto_of[p[0]] == auto_of.get(p[1])}
    queue_hit = {p for p in gold if with_queue[p[0]] == with_queue[p[1]]}
    false_records = 0
    removed_right = 0
    false_pairs = []
    for g in result.groups:
        counts = Counter(truth[r] for r in g)
        false_records += len(g) - max(counts.values())
        removed_right += max(counts.values()) - 1
        false_pairs += [p for p in combinations(g, 2) if truth[p[0]] != truth[p[1]]]
    n = len(ids)
    return {
        "records": n,
        "true_pairs": len(gold),
        "auto_recall": len(auto_hit) / len(gold) if gold else 1.0,
        "record_sensitivity": removed_right / max(1, n - len(set(truth.values()))),
        "queue_recall": len(queue_hit) / len(gold) if gold else 1.0,
        "false_merged_records": false_records,
        "false_merges_per_1000": 1000 * false_records / n,
        "false_pairs": false_pairs,
        "review_items": len(review),
        "review_share": len(review) / n,
        "review_true": len(accepted),
        "missed_auto": sorted(gold - auto_hit),
        "missed_queue": sorted(gold - queue_hit),
    }
