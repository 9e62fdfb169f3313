"""Who screens how much, and what the screening page marks in a record's text.

Pure code over plain data: the quota draw for a mixed "k reviewers for a share of records, one
for the rest" setting, and the matching of protocol terms in titles, abstracts and full texts.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


def draw_quota(
    record_ids: Sequence[int], *, fraction: float | None, reviewers: int, seed: int
) -> dict[int, int]:
    """Draw which records get ``reviewers`` decisions and which get one.

    Args:
        record_ids: the records to assign (order does not matter; they are sorted first so the
            same seed gives the same draw whatever order the database returned them in).
        fraction: share of records screened by ``reviewers`` people; None or 1 means all.
        reviewers: decisions a drawn record needs (1 to 3).
        seed: seed of the draw, recorded with it so it can be reproduced.

    Returns:
        The quota of every record id.
    """
    ids = sorted(set(record_ids))
    if fraction is None or fraction >= 1 or reviewers <= 1:
        return dict.fromkeys(ids, reviewers)
    if fraction < 0:
        raise ValueError("fraction must be between 0 and 1")
    n_multi = round(fraction * len(ids))
    chosen = set(random.Random(seed).sample(ids, n_multi))
    return {rid: reviewers if rid in chosen else 1 for rid in ids}


@dataclass(frozen=True)
class Segment:
    """A run of text; ``kind`` names the term list it matched (None for plain text)."""

    text: str
    kind: str | None = None


def _term_pattern(term: str) -> str | None:
    # A trailing '*' is a prefix wildcard ("econom*"); otherwise a whole word or phrase with an
    # optional plural ending, so "nudge" also marks "nudges" but "rat" not "rational".
    term = " ".join(term.split())
    if not term or term == "*":
        return None
    wildcard = term.endswith("*")
    words = [re.escape(w) for w in term.rstrip("*").split(" ")]
    body = r"\s+".join(words)
    tail = r"\w*" if wildcard else r"(?:s|es)?\b"
    return rf"(?<!\w){body}{tail}"


def compile_terms(groups: Mapping[str, Sequence[str]]) -> re.Pattern[str] | None:
    """One case-insensitive pattern for every term, each in a named group per list.

    Longer terms are tried first, so "choice architecture" wins over "choice"; on equal terms
    the list named first wins.
    """
    alternatives: list[tuple[int, int, str]] = []
    for order, (kind, terms) in enumerate(groups.items()):
        for term in terms:
            pattern = _term_pattern(term)
            if pattern:
                name = f"{kind}_{len(alternatives)}"
                alternatives.append((-len(term), order, f"(?P<{name}>{pattern})"))
    if not alternatives:
        return None
    alternatives.sort(key=lambda item: (item[0], item[1]))
    return re.compile("|".join(alt for _, _, alt in alternatives), re.IGNORECASE)


def highlight(
    text: str | None, groups: Mapping[str, Sequence[str]], pattern: re.Pattern[str] | None = None
) -> list[Segment]:
    """Split ``text`` into plain runs and runs matching a term of one of ``groups``.

    The page escapes each segment and wraps marked ones in ``<mark class=kind>``, so user text
    is never trusted as HTML.

    Args:
        text: the text to mark (None gives no segments).
        groups: term lists by kind, e.g. ``{"inc": [...], "exc": [...]}``.
        pattern: a pattern from :func:`compile_terms` for these groups, to reuse across texts.
    """
    if not text:
        return []
    pattern = pattern if pattern is not None else compile_terms(groups)
    if pattern is None:
        return [Segment(text)]
    segments: list[Segment] = []
    position = 0
    for match in pattern.finditer(text):
        if match.start() == match.end():
            continue
        if match.start() > position:
            segments.append(Segment(text[position:match.start()]))
        kind = (match.lastgroup or "").rsplit("_", 1)[0] or None
        segments.append(Segment(match.group(0), kind))
        position = match.end()
    if position < len(text):
        segments.append(Segment(text[position:]))
    return segments


def count_hits(segments: Sequence[Segment], kind: str) -> int:
    """How many runs of ``kind`` the segments hold (e.g. search hits in a full text)."""
    return sum(1 for s in segments if s.kind == kind)
