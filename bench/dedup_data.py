"""Load the labelled deduplication CSVs of ../shared/data/dedup as DedupRecords plus labels."""

from __future__ import annotations

import csv
from pathlib import Path

from screening.dedup import DedupRecord

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "dedup"
SETS = ("asysd_diabetes", "rathbone2015_haematology", "bibdedupe_special_cases",
        "bibdedupe_tests_small")


def _year(text: str) -> int | None:
    digits = text.strip()[:4]
    return int(digits) if digits.isdigit() else None


def load_labelled(path: Path) -> tuple[list[DedupRecord], dict[str, str]]:
    """Read one labelled CSV: the records and ``record_id -> true_group``.

    Rows without a record_id (an empty line in one bib-dedupe file) are skipped.
    """
    records: list[DedupRecord] = []
    truth: dict[str, str] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            rid = row["record_id"].strip()
            if not rid:
                continue
            def get(name: str, row: dict[str, str] = row) -> str | None:
                return row.get(name, "").strip() or None
            records.append(DedupRecord(
                id=rid, title=get("title"), authors=[a for a in [get("authors")] if a],
                year=_year(row.get("year", "")), journal=get("journal"), volume=get("volume"),
                issue=get("issue"), pages=get("pages"), doi=get("doi"), abstract=get("abstract"),
                isbn=get("isbn"), source=get("source_db")))
            truth[rid] = row["true_group"]
    return records, truth


def load_set(name: str) -> tuple[list[DedupRecord], dict[str, str]]:
    """Load a named set from the shared data folder."""
    return load_labelled(DATA / f"{name}.csv")
