"""The deduplication engine on the real labelled sets of ../shared/data/dedup.

The full-size figures live in bench/dedup_bench.py; these tests hold the behaviour users rely on:
each bib-dedupe case's expected outcome, no false merge on the real sets, the targets on
asysd_diabetes, and errata never merged automatically with their papers.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from dedup_data import DATA, load_set  # noqa: E402
from dedup_eval import evaluate  # noqa: E402

from screening.dedup import choose_kept, find_duplicates  # noqa: E402
from screening.dedup.normalise import clean_title  # noqa: E402

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data/dedup is absent")


def together(result, *ids: str) -> bool:
    return any(set(ids) <= set(g) for g in result.groups)


@pytest.fixture(scope="module")
def diabetes():
    records, truth = load_set("asysd_diabetes")
    return records, truth, find_duplicates(records)


def test_special_cases_each_get_their_labelled_outcome() -> None:
    records, _ = load_set("bibdedupe_special_cases")
    result = find_duplicates(records)
    # Same AMCIS paper with the subtitle separated by "-" vs ":" and a shortened author name.
    assert together(result, "id_0000001", "id_0000002")
    # Same paper, abstract present on one side only.
    assert together(result, "id_0000005", "id_0000006")
    # Journal article with and without its DOI.
    assert together(result, "id_0000007", "id_0000011")
    # The 2003 conference version of that article stays apart (years and venues differ).
    assert not together(result, "id_0000007", "id_0000012")
    # Yearly HICSS minitrack introductions: same title, different DOIs and years.
    assert not together(result, "id_0000003", "id_0000004")
    # Conference paper 2011 vs journal article 2014 with other authors and DOIs.
    assert not together(result, "id_0000009", "id_0000010")
    assert len(result.groups) == 3


def test_small_hard_cases_each_get_their_labelled_outcome() -> None:
    records, _ = load_set("bibdedupe_tests_small")
    result = find_duplicates(records)
    assert together(result, "id_0001432", "id_0025776")  # identical records, abstract case
    assert together(result, "SauerSeuring2023", "SauerSeuring2023B")  # sparse vs full record
    # Author name typo ("Albarqo") and JATS tags in the abstract.
    assert together(result, "ClarkBartonAlbarqoEtAl2025", "ClarkBartonAlbarqouniEtAl2025")
    assert not any("id_0029057" in g or "id_0028740" in g for g in result.groups)
    # Cochrane review versions pub2/pub3: the labels call them one work; kept apart, but asked.
    assert not together(result, "id_0021834", "id_0022176")
    cochrane = next(p for p in result.pairs if {p.a, p.b} == {"id_0021834", "id_0022176"})
    assert cochrane.decision == "review"


def test_already_deduplicated_search_keeps_its_records_apart() -> None:
    records, _ = load_set("bibdedupe_tests_small")
    case = [r for r in records if r.id.startswith("id_0000728")]
    new_ids = {r.id for r in case if r.source == "new_search"}
    result = find_duplicates(case, new_ids=new_ids)
    assert result.groups == [["id_0000728", "id_0000728NEW"]]
    assert all("id_0000728NEW" in (p.a, p.b) for p in result.pairs)


def test_diabetes_meets_the_recall_and_false_merge_targets(diabetes) -> None:
    records, truth, result = diabetes
    figures = evaluate(result, truth)
    assert figures["false_merged_records"] == 0
    assert figures["auto_recall"] >= 0.99
    assert figures["queue_recall"] >= 0.995
    assert figures["review_items"] <= 0.05 * len(records)


def test_every_pair_carries_field_reasons_and_its_rule(diabetes) -> None:
    _, _, result = diabetes
    for pair in result.pairs:
        fields = {r.field for r in pair.reasons}
        assert {"title", "authors", "doi", "year", "rule"} <= fields
        assert all(r.similarity is None or 0.0 <= r.similarity <= 1.0 for r in pair.reasons)
        assert 0.0 <= pair.score <= 1.0


def test_rathbone_has_no_false_merge_and_no_erratum_in_a_paper_group() -> None:
    records, truth = load_set("rathbone2015_haematology")
    result = find_duplicates(records)
    figures = evaluate(result, truth)
    assert figures["false_merged_records"] == 0
    assert figures["review_items"] <= 0.05 * len(records)
    markers = {r.id: clean_title(r.title)[1] for r in records}
    for group in result.groups:
        assert len({markers[i] for i in group}) == 1, group


def test_incremental_import_of_the_second_half_finds_its_duplicates(diabetes) -> None:
    records, truth, full = diabetes
    first, second = records[: len(records) // 2], records[len(records) // 2:]
    earlier = find_duplicates(first)
    merged_away = {i for g in earlier.groups for i in g}
    kept = {choose_kept([r for r in first if r.id in g]) for g in earlier.groups}
    stored = [r for r in first if r.id in kept or r.id not in merged_away]
    new_ids = {r.id for r in second}
    result = find_duplicates(stored + second, new_ids=new_ids)
    assert all(new_ids & {p.a, p.b} for p in result.pairs)
    assert result.stats["candidate_pairs"] < full.stats["candidate_pairs"]
    figures = evaluate(result, {r.id: truth[r.id] for r in stored + second})
    assert figures["false_merged_records"] == 0
    assert figures["auto_recall"] >= 0.99
