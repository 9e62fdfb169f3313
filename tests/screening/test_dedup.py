"""Behaviour of the deduplication engine on small hand-made records: normalisation, guard rails,
incremental mode, the kept record, determinism and the groups.csv rows."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from screening.dedup import DedupRecord, choose_kept, dedup_rows, find_duplicates
from screening.dedup.normalise import normalise, normalise_doi, parse_pages, split_authors

PAPER = DedupRecord(
    id="p1",
    title="Social impact bonds and the outcomes of payment by results in homelessness services",
    authors=["Carter, Eleanor", "Whitworth, Adam"],
    year=2019,
    journal="Journal of Social Policy",
    volume="48",
    issue="3",
    pages="451-470",
    doi="10.1017/S0047279418000570",
    abstract="We study payment by results contracts for homelessness services in England.",
)


def pair_of(result, a: str, b: str):
    return next((p for p in result.pairs if {p.a, p.b} == {a, b}), None)


def same_group(result, a: str, b: str) -> bool:
    return any(a in g and b in g for g in result.groups)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("http://dx.doi.org/10.1097/MOL.0b013e3282ffaf82", "10.1097/mol.0b013e3282ffaf82"),
        ("doi: 10.1016/S0025-7753%2817%2930624-3", "10.1016/s0025-7753(17)30624-3"),
        ("https://doi.org/10.1017/RSM.2025.16.", "10.1017/rsm.2025.16"),
        ("not a doi", ""),
    ],
)
def test_doi_forms_are_normalised(raw: str, expected: str) -> None:
    assert normalise_doi(raw) == expected


def test_pages_expand_abbreviations_and_excel_dates() -> None:
    assert parse_pages("221-8") == ("221", "228")
    assert parse_pages("1899--1933") == ("1899", "1933")
    assert parse_pages("01-Jul") == ("1", "7")
    assert parse_pages("c37-c42") == ("37", "42")


def test_glued_and_joined_author_lists_are_split() -> None:
    assert split_authors(["Tan A.Schulze A.O'Donnell C. P."]) == [
        "Tan A.", "Schulze A.", "O'Donnell C. P."]
    assert split_authors(["Zuber, J and Le Quintrec, M"]) == ["Zuber, J", "Le Quintrec, M"]


def test_garbage_locators_count_as_missing() -> None:
    norm = normalise(replace(PAPER, volume="Suppl-29", issue="20134567"))
    assert norm.volume == "" and norm.issue == ""


def test_medline_notes_do_not_change_the_title_but_errata_are_marked() -> None:
    noted = normalise(replace(PAPER, title=PAPER.title + ".[Erratum appears in J Soc Pol 2020]"))
    assert noted.title == normalise(PAPER).title and not noted.markers
    erratum = normalise(replace(PAPER, title=PAPER.title + " (vol 48, pg 451, 2019)"))
    assert erratum.markers == {"erratum"}


def test_reformatted_copy_from_another_database_is_merged_automatically() -> None:
    copy = replace(PAPER, id="p2", title=PAPER.title.upper() + ".", pages="451-70",
                   authors=["Carter E.Whitworth A."], doi="https://doi.org/" + PAPER.doi,
                   journal="J Soc Policy")
    result = find_duplicates([PAPER, copy])
    assert result.groups == [["p1", "p2"]]
    pair = pair_of(result, "p1", "p2")
    assert pair.decision == "auto"
    fields = {r.field: r for r in pair.reasons}
    assert fields["doi"].similarity == 1.0 and fields["title"].similarity == 1.0
    assert fields["rule"].note.startswith("doi_title")


def test_author_order_and_particles_do_not_matter() -> None:
    a = replace(PAPER, id="a", doi=None, authors=["Wu, C. Y.", "Le Quintrec, M."])
    b = replace(PAPER, id="b", doi=None, authors=["Ching-yi, Wu", "Quintrec, M. Le"])
    pair = pair_of(find_duplicates([a, b]), "a", "b")
    assert pair is not None and pair.decision == "auto"
    assert next(r for r in pair.reasons if r.field == "authors").similarity >= 0.8


def test_different_dois_are_never_merged_automatically() -> None:
    other = replace(PAPER, id="p2", doi="10.1017/S0047279418000999")
    result = find_duplicates([PAPER, other])
    assert result.groups == []
    pair = pair_of(result, "p1", "p2")
    assert pair is not None and pair.decision == "review"
    assert any(r.field == "conflict" and "DOI" in r.note for r in pair.reasons)


def test_a_doi_less_record_cannot_bridge_two_dois_into_one_group() -> None:
    bridge = replace(PAPER, id="p0", doi=None)
    other = replace(PAPER, id="p2", doi="10.1017/S0047279418000999")
    result = find_duplicates([bridge, PAPER, other])
    assert not same_group(result, "p1", "p2")
    refused = [p for p in result.pairs if any(r.field == "guard" for r in p.reasons)]
    assert refused and all(p.decision == "review" for p in refused)
    assert "two different DOIs" in next(r.note for r in refused[0].reasons if r.field == "guard")


def test_years_more_than_one_apart_never_share_a_group() -> None:
    early = replace(PAPER, id="e", doi=None, year=2017, pages=None, volume=None, issue=None)
    middle = replace(early, id="m", year=2018)
    late = replace(early, id="l", year=2019)
    result = find_duplicates([early, middle, late])
    assert not same_group(result, "e", "l")


def test_erratum_goes_to_review_not_into_the_paper_group() -> None:
    erratum = replace(PAPER, id="err", title="Erratum: " + PAPER.title, pages="999", issue="4",
                      abstract=None, doi=None)
    result = find_duplicates([PAPER, erratum])
    assert result.groups == []
    pair = pair_of(result, "p1", "err")
    assert pair is not None and pair.decision == "review"


def test_cochrane_review_versions_are_not_merged_automatically() -> None:
    base = DedupRecord(id="v2", title="Air versus oxygen for resuscitation of infants at birth",
                       authors=["Tan A.Schulze A.Davis P. G."], year=2004,
                       journal="Cochrane Database Syst Rev", issue="3", pages="CD002273",
                       doi="10.1002/14651858.CD002273.pub2")
    newer = replace(base, id="v3", year=2005, issue="2", doi="10.1002/14651858.CD002273.pub3")
    result = find_duplicates([base, newer])
    assert result.groups == []
    assert pair_of(result, "v2", "v3").decision == "review"


def test_recurring_column_with_the_same_title_is_not_merged() -> None:
    issues = [DedupRecord(id=f"c{k}", title="Editor's comments", authors=["Smith, J."],
                          year=2020, journal="Public Money & Management", volume="40",
                          issue=str(k)) for k in range(1, 5)]
    assert find_duplicates(issues).groups == []


def test_incremental_mode_compares_only_pairs_with_a_new_record() -> None:
    old_a = replace(PAPER, id="old-a")
    old_b = replace(PAPER, id="old-b", title=PAPER.title + ".")
    new = replace(PAPER, id="new", pages="451-70")
    unrelated = DedupRecord(id="new-2", title="Outcomes funds in Colombia", year=2022)
    records = [old_a, old_b, new, unrelated]
    full = find_duplicates(records)
    incremental = find_duplicates(records, new_ids={"new", "new-2"})
    assert pair_of(full, "old-a", "old-b") is not None
    assert all({"new", "new-2"} & {p.a, p.b} for p in incremental.pairs)
    assert incremental.stats["candidate_pairs"] < full.stats["candidate_pairs"]
    # The old records were deduplicated before: the new one joins only one of them.
    assert incremental.groups == [["new", "old-a"]]


def test_choose_kept_prefers_locked_then_complete_then_smallest_id() -> None:
    sparse = DedupRecord(id="z", title=PAPER.title, locked=True)
    full = replace(PAPER, id="y")
    assert choose_kept([full, sparse]) == "z"
    assert choose_kept([full, replace(sparse, locked=False)]) == "y"
    assert choose_kept([replace(full, id="b"), replace(full, id="a")]) == "a"
    with pytest.raises(ValueError):
        choose_kept([])


def test_choose_kept_prefers_the_clean_copy_over_a_longer_garbled_one() -> None:
    clean = DedupRecord(id="1", title="Implementing \u201cSepsis Six\u201d in a district hospital",
                        year=2019, journal="BMJ Open", abstract="We don\u2019t know how it went.")
    garbled = replace(clean, id="0",
                      title="Implementing \u00e2\u20ac\u0153Sepsis Six\u00e2\u20ac\u009d in a "
                            "district hospital",
                      abstract="We don\u00e2\u20ac\u2122t know how it went.")
    assert choose_kept([garbled, clean]) == "1"
    assert choose_kept([clean, garbled]) == "1"
    # a clean copy with fewer fields still loses: completeness comes first
    assert choose_kept([garbled, replace(clean, journal=None)]) == "0"


def test_results_do_not_depend_on_input_order() -> None:
    records = [PAPER, replace(PAPER, id="p2", doi=None), replace(PAPER, id="p3", pages="451-70"),
               replace(PAPER, id="p4", doi="10.1/other"), DedupRecord(id="x", title="Other")]
    first = find_duplicates(records)
    shuffled = records[:]
    random.Random(3).shuffle(shuffled)
    second = find_duplicates(shuffled)
    assert first.groups == second.groups
    assert [(p.a, p.b, p.decision, p.score) for p in first.pairs] == [
        (p.a, p.b, p.decision, p.score) for p in second.pairs]


def test_dedup_rows_give_one_row_per_record_in_input_order() -> None:
    records = [replace(PAPER, id="sparse", abstract=None, isbn=None, issue=None),
               replace(PAPER, id="full", isbn="0047-2794"),
               replace(PAPER, id="wrong-doi", doi="10.1017/S0047279418000999"),
               DedupRecord(id="alone", title="Outcomes funds in Colombia")]
    rows = dedup_rows(records)
    assert [r[0] for r in rows] == ["sparse", "full", "wrong-doi", "alone"]
    by_id = {r[0]: r for r in rows}
    assert by_id["sparse"][1:3] == ("full", "auto") and by_id["full"][1:3] == ("full", "auto")
    assert by_id["wrong-doi"][1:3] == ("wrong-doi", "review")
    assert by_id["alone"] == ("alone", "alone", "unique", None)


def test_duplicate_ids_are_refused() -> None:
    with pytest.raises(ValueError):
        find_duplicates([PAPER, PAPER])


def test_preprint_and_published_version_go_to_review() -> None:
    preprint = replace(PAPER, id="pre", doi="10.1101/2018.05.01.123456", journal="medRxiv",
                       volume=None, issue=None, pages=None, year=2018)
    result = find_duplicates([PAPER, preprint])
    assert result.groups == []
    assert pair_of(result, "p1", "pre").decision == "review"


def test_title_only_grey_literature_goes_to_review() -> None:
    title = "Evaluation of the Peterborough social impact bond: final report on the pilot"
    a = DedupRecord(id="g1", title=title)
    b = DedupRecord(id="g2", title=title.upper(), year=2014)
    result = find_duplicates([a, b])
    assert result.groups == []
    assert pair_of(result, "g1", "g2").decision == "review"


def test_titles_in_two_languages_with_one_doi_go_to_review() -> None:
    german = replace(PAPER, id="de", title="Soziale Wirkungsanleihen und ergebnisorientierte "
                     "Bezahlung in der Wohnungslosenhilfe", abstract=None)
    result = find_duplicates([PAPER, german])
    assert pair_of(result, "p1", "de").decision == "review"


def test_garbage_locators_do_not_block_a_merge() -> None:
    messy = replace(PAPER, id="messy", volume="1)", issue="20134567", pages="Suppl-29", doi=None)
    result = find_duplicates([PAPER, messy])
    assert result.groups == [["messy", "p1"]]


def test_empty_and_bare_inputs() -> None:
    assert find_duplicates([]).pairs == [] and dedup_rows([]) == []
    bare = find_duplicates([DedupRecord(id="a"), DedupRecord(id="b")])
    assert bare.pairs == [] and bare.groups == []
