"""Deduplication engine: find duplicate bibliographic records, explain and group them.

Pure code over plain data (no Flask, no database)::

    find_duplicates(records, *, new_ids=None, workers=2) -> DedupResult
    choose_kept(group) -> str
    dedup_rows(records, *, workers=2) -> list[(record_id, group_id, decision, score)]

``find_duplicates`` normalises the records, compares the pairs that share a blocking key (DOI,
title start, title end, two rarest title words, first author + year, volume + first page),
decides each pair with narrow rules ("auto" merge, "review" by a human, or distinct) and builds
``groups`` from the automatic merges, strongest first, under guard rails (never two DOIs, years
more than one apart, an erratum/reply/comment with its paper or two Cochrane review versions in
one group). Every pair carries its reasons (field similarities, conflicts, the rule that fired,
the guard rail that refused it) for the review queue.
"""

from screening.dedup.engine import dedup_rows, find_duplicates
from screening.dedup.groups import choose_kept
from screening.dedup.model import DedupRecord, DedupResult, Pair, Reason

__all__ = ["DedupRecord", "DedupResult", "Pair", "Reason", "choose_kept", "dedup_rows",
           "find_duplicates"]
