"""Deduplication engine: find duplicate bibliographic records, explain and group them.

Pure code over plain data: ``find_duplicates`` takes ``DedupRecord`` objects and returns the
automatic merges, the pairs a human should review (with reasons) and the merged groups.
"""

from screening.dedup.engine import dedup_rows, find_duplicates
from screening.dedup.groups import choose_kept
from screening.dedup.model import DedupRecord, DedupResult, Pair, Reason

__all__ = ["DedupRecord", "DedupResult", "Pair", "Reason", "choose_kept", "dedup_rows",
           "find_duplicates"]
