"""Agreement statistics against published worked examples and an independent implementation."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score

from screening.agreement import (
    BINARY,
    LABELS,
    NO_SHARED,
    ONE_CATEGORY,
    cohen_kappa,
    count_table,
    gwet_ac1,
    gwet_ac1_table,
    krippendorff_alpha,
    multi_agreement,
    pabak,
    pair_agreement,
    percent_agreement,
    to_binary,
)

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers,
# 12 units, values 1-5, None = missing. Published nominal alpha 0.743. The same matrix is
# irrCAC's cac.raw4raters, for which Gwet's AC1 is 0.7754.
KRIPPENDORFF_2011 = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
}


def _units(matrix):
    return [[str(v) for v in column if v is not None] for column in zip(*matrix.values(),
                                                                        strict=True)]


def test_kappa_wikipedia_example() -> None:
    # 50 grant proposals: yes/yes 20, yes/no 5, no/yes 10, no/no 15: po 0.7, pe 0.5.
    table = [[20, 5], [10, 15]]
    assert percent_agreement(table).value == pytest.approx(0.7)
    assert cohen_kappa(table).value == pytest.approx(0.4)
    assert pabak(table).value == pytest.approx(0.4)


def test_kappa_three_categories_irrcac_abstractors() -> None:
    # irrCAC's cont3x3abstractors: Cohen's kappa 0.7964094 in the package vignette.
    table = [[13, 0, 0], [0, 20, 7], [0, 4, 56]]
    assert cohen_kappa(table).value == pytest.approx(0.7964094, abs=1e-7)
    assert pabak(table).value == pytest.approx((3 * 89 / 100 - 1) / 2)


def test_prevalence_paradox_sas_242_2009() -> None:
    # 95 agree on one class, 5 disagree: kappa -0.016 although 95% agree; PABAK 0.90.
    table = [[95, 4], [1, 0]]
    assert cohen_kappa(table).value == pytest.approx(-0.016260, abs=1e-6)
    assert pabak(table).value == pytest.approx(0.90)


def test_gwet_ac1_resists_the_paradox() -> None:
    # Gwet's (2008) point: 118/5/2/0 gives kappa ~ -0.02 but AC1 ~ 0.94.
    table = [[118, 5], [2, 0]]
    assert cohen_kappa(table).value == pytest.approx(-0.0234, abs=1e-4)
    # pi_1 = 243/250, pe = 2 * pi_1 * (1 - pi_1), AC1 = (0.944 - pe) / (1 - pe).
    pe = 2 * (243 / 250) * (7 / 250)
    assert gwet_ac1_table(table).value == pytest.approx((118 / 125 - pe) / (1 - pe))
    assert gwet_ac1_table(table).value == pytest.approx(0.9408, abs=1e-4)


def test_krippendorff_alpha_published_example() -> None:
    assert krippendorff_alpha(_units(KRIPPENDORFF_2011)).value == pytest.approx(0.743421052632)


def test_krippendorff_binary_example() -> None:
    # Krippendorff (2011) section A: 2 observers, 10 units, coincidences [[10,4],[4,2]]:
    # 5 units 0/0, 4 units split, 1 unit 1/1; published alpha 0.095.
    units = [["0", "0"]] * 5 + [["0", "1"]] * 2 + [["1", "0"]] * 2 + [["1", "1"]]
    assert krippendorff_alpha(units).value == pytest.approx(0.095238, abs=1e-6)


def test_gwet_ac1_several_raters_with_missing_ratings() -> None:
    categories = [str(i) for i in range(1, 6)]
    assert gwet_ac1(_units(KRIPPENDORFF_2011), categories).value == pytest.approx(0.77544,
                                                                                 abs=1e-5)


def test_all_agree_on_one_class_kappa_undefined_not_a_crash() -> None:
    result = pair_agreement({1: "include", 2: "include"}, {1: "include", 2: "include"})
    assert result.kappa.value is None and result.kappa.note == ONE_CATEGORY
    assert result.percent.value == 1.0
    assert result.pabak.value == 1.0
    assert result.ac1.value == 1.0
    assert krippendorff_alpha([["include", "include"]] * 3).value is None


def test_no_shared_records_every_statistic_undefined() -> None:
    result = pair_agreement({1: "include"}, {2: "exclude"})
    assert result.n == 0
    for stat in (result.percent, result.kappa, result.pabak, result.ac1):
        assert stat.value is None and stat.note == NO_SHARED
    multi = multi_agreement({1: {"a": "include"}})
    assert multi.n_items == 0 and multi.ac1.value is None and multi.alpha.value is None


def test_pair_counts_only_records_both_decided() -> None:
    a = {1: "include", 2: "exclude", 3: "maybe", 4: "exclude"}
    b = {1: "include", 2: "include", 3: "maybe", 5: "include"}
    result = pair_agreement(a, b, LABELS)
    assert result.n == 3
    assert result.table == ((1, 0, 0), (1, 0, 0), (0, 0, 1))
    binary = pair_agreement({k: to_binary(v) for k, v in a.items()},
                            {k: to_binary(v) for k, v in b.items()}, BINARY)
    assert binary.table == ((2, 0), (1, 0))


def test_unknown_category_is_refused() -> None:
    with pytest.raises(ValueError, match="category"):
        count_table([("include", "perhaps")], BINARY)


def test_two_raters_multi_equals_krippendorff_and_pairwise_percent() -> None:
    ratings = {i: {"a": x, "b": y} for i, (x, y) in enumerate(
        [("include", "include"), ("include", "exclude"), ("exclude", "exclude"),
         ("exclude", "exclude"), ("include", "include")])}
    multi = multi_agreement(ratings)
    assert multi.n_raters == 2 and multi.n_items == 5
    assert multi.percent.value == pytest.approx(0.8)
    pair = pair_agreement({i: r["a"] for i, r in ratings.items()},
                          {i: r["b"] for i, r in ratings.items()})
    # With two raters and no missing data, multi-rater AC1 is the two-rater AC1.
    assert multi.ac1.value == pytest.approx(pair.ac1.value)


labels = st.sampled_from(LABELS)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(labels, labels), min_size=1, max_size=60))
def test_kappa_matches_scikit_learn(pairs) -> None:
    table = count_table(pairs, LABELS)
    ours = cohen_kappa(table)
    a, b = [p[0] for p in pairs], [p[1] for p in pairs]
    if ours.value is None:
        assert len(set(a) | set(b)) == 1
    else:
        theirs = cohen_kappa_score(a, b, labels=list(LABELS))
        assert math.isclose(ours.value, theirs, abs_tol=1e-9)
        assert -1.0 <= ours.value <= 1.0
