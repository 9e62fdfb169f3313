"""Inter-rater agreement statistics for screening decisions.

Counts tables, percent agreement, Cohen's kappa, PABAK, Gwet's AC1 and Krippendorff's alpha
(nominal).

Pure functions over plain data. A statistic that cannot be computed (no shared records, or
every decision in one category so chance agreement is total) comes back as a
:class:`Statistic` with ``value=None`` and the reason, never as a division by zero.

References: Cohen (1960); Byrt, Bishop & Carlin (1993) for PABAK; Gwet (2008) for AC1 with
several raters and missing ratings; Krippendorff (2011), "Computing Krippendorff's
Alpha-Reliability", for alpha.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import permutations
from typing import TypeVar

BINARY = ("include", "exclude")
LABELS = ("include", "exclude", "maybe")
Item = TypeVar("Item", bound=Hashable)
Rater = TypeVar("Rater", bound=Hashable)
NO_SHARED = "no records decided by both"
ONE_CATEGORY = "every decision in one category: chance agreement is total"


@dataclass(frozen=True)
class Statistic:
    """A coefficient, or None with the reason it is undefined."""

    value: float | None
    note: str | None = None


@dataclass(frozen=True)
class PairAgreement:
    """Agreement of two raters over the items both rated.

    ``table[i][j]`` counts items rater A put in ``categories[i]`` and rater B in
    ``categories[j]``.
    """

    categories: tuple[str, ...]
    table: tuple[tuple[int, ...], ...]
    n: int
    percent: Statistic
    kappa: Statistic
    pabak: Statistic
    ac1: Statistic


@dataclass(frozen=True)
class MultiAgreement:
    """Agreement of any number of raters over the items at least two of them rated."""

    categories: tuple[str, ...]
    n_items: int
    n_raters: int
    percent: Statistic
    ac1: Statistic
    alpha: Statistic


def to_binary(label: str) -> str:
    """Map a screening label onto the include/exclude scale (maybe counts as include)."""
    return "exclude" if label == "exclude" else "include"


def count_table(
    pairs: Iterable[tuple[str, str]], categories: Sequence[str]
) -> tuple[tuple[int, ...], ...]:
    """The k x k counts table of (rater A, rater B) category pairs.

    Raises:
        ValueError: a category outside ``categories``.
    """
    index = {c: i for i, c in enumerate(categories)}
    cells = [[0] * len(categories) for _ in categories]
    for a, b in pairs:
        if a not in index or b not in index:
            raise ValueError(f"category outside {tuple(categories)}: {a!r}/{b!r}")
        cells[index[a]][index[b]] += 1
    return tuple(tuple(row) for row in cells)


def _margins(table: Sequence[Sequence[int]]) -> tuple[int, float, list[int], list[int]]:
    n = sum(sum(row) for row in table)
    agree = sum(table[i][i] for i in range(len(table)))
    rows = [sum(row) for row in table]
    cols = [sum(table[i][j] for i in range(len(table))) for j in range(len(table))]
    return n, agree / n if n else 0.0, rows, cols


def percent_agreement(table: Sequence[Sequence[int]]) -> Statistic:
    """Share of items on the diagonal (0 to 1)."""
    n, po, _, _ = _margins(table)
    return Statistic(po) if n else Statistic(None, NO_SHARED)


def cohen_kappa(table: Sequence[Sequence[int]]) -> Statistic:
    """Cohen's kappa: (po - pe) / (1 - pe), pe from each rater's own margins.

    Undefined (None) without items, and when both raters put every item in the same single
    category (pe = 1).
    """
    n, po, rows, cols = _margins(table)
    if not n:
        return Statistic(None, NO_SHARED)
    pe = sum(r * c for r, c in zip(rows, cols, strict=True)) / (n * n)
    if pe >= 1.0:
        return Statistic(None, ONE_CATEGORY)
    return Statistic((po - pe) / (1.0 - pe))


def pabak(table: Sequence[Sequence[int]]) -> Statistic:
    """Prevalence- and bias-adjusted kappa: (k * po - 1) / (k - 1) for k categories."""
    n, po, _, _ = _margins(table)
    k = len(table)
    if not n:
        return Statistic(None, NO_SHARED)
    if k < 2:
        return Statistic(None, "needs at least two categories")
    return Statistic((k * po - 1.0) / (k - 1.0))


def gwet_ac1_table(table: Sequence[Sequence[int]]) -> Statistic:
    """Gwet's AC1 for two raters from their k x k table (k = the scale's categories).

    pe = sum_k pi_k (1 - pi_k) / (k - 1), pi_k the mean of the two raters' shares of k.
    """
    n, po, rows, cols = _margins(table)
    k = len(table)
    if not n:
        return Statistic(None, NO_SHARED)
    if k < 2:
        return Statistic(None, "needs at least two categories")
    pis = [(r + c) / (2.0 * n) for r, c in zip(rows, cols, strict=True)]
    pe = sum(p * (1.0 - p) for p in pis) / (k - 1)
    return Statistic((po - pe) / (1.0 - pe))


def pair_agreement(
    a: Mapping[Item, str], b: Mapping[Item, str], categories: Sequence[str] = BINARY
) -> PairAgreement:
    """Agreement of raters A and B over the items both rated.

    Args:
        a: item -> category for rater A.
        b: item -> category for rater B.
        categories: the scale, in the order of the table's rows and columns.

    Returns:
        The table and coefficients; items rated by only one of them are left out.
    """
    shared = [(a[item], b[item]) for item in a.keys() & b.keys()]
    table = count_table(shared, categories)
    return PairAgreement(
        categories=tuple(categories), table=table, n=len(shared),
        percent=percent_agreement(table), kappa=cohen_kappa(table), pabak=pabak(table),
        ac1=gwet_ac1_table(table),
    )


def _unit_counts(
    units: Iterable[Sequence[str]], categories: Sequence[str]
) -> list[Counter[str]]:
    known = set(categories)
    counted = []
    for values in units:
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"category outside {tuple(categories)}: {sorted(unknown)}")
        counted.append(Counter(values))
    return counted


def gwet_ac1(units: Iterable[Sequence[str]], categories: Sequence[str]) -> Statistic:
    """Gwet's AC1 for any number of raters, some ratings missing (Gwet 2008).

    Args:
        units: per item, the categories its raters gave (one entry per rater who rated it).
        categories: the scale (q categories).

    Returns:
        AC1 with pa over items rated at least twice and pi_k over items rated at least once.
    """
    counts = [c for c in _unit_counts(units, categories) if sum(c.values()) >= 1]
    paired = [c for c in counts if sum(c.values()) >= 2]
    q = len(categories)
    if not paired:
        return Statistic(None, "no item rated by two or more raters")
    if q < 2:
        return Statistic(None, "needs at least two categories")
    pa = sum(_unit_agreement(c) for c in paired) / len(paired)
    pis = [sum(c[k] / sum(c.values()) for c in counts) / len(counts) for k in categories]
    pe = sum(p * (1.0 - p) for p in pis) / (q - 1)
    return Statistic((pa - pe) / (1.0 - pe))


def _unit_agreement(c: Counter[str]) -> float:
    r = sum(c.values())
    return sum(v * (v - 1) for v in c.values()) / (r * (r - 1))


def krippendorff_alpha(units: Iterable[Sequence[str]]) -> Statistic:
    """Krippendorff's alpha for nominal data; items with one rating are not pairable.

    alpha = 1 - (n - 1) * D_o / sum_{c != k} n_c n_k over the coincidence matrix.
    Undefined when every pairable value falls in one category.
    """
    coincidence: dict[tuple[str, str], float] = defaultdict(float)
    for values in units:
        m = len(values)
        if m < 2:
            continue
        # Every ordered pair of values within an item, each weighted 1 / (m - 1).
        for x, y in permutations(values, 2):
            coincidence[(x, y)] += 1.0 / (m - 1)
    totals: dict[str, float] = defaultdict(float)
    for (x, _), weight in coincidence.items():
        totals[x] += weight
    n = sum(totals.values())
    if n == 0:
        return Statistic(None, "no item rated by two or more raters")
    observed = sum(w for (x, y), w in coincidence.items() if x != y)
    expected = sum(totals[x] * totals[y] for x in totals for y in totals if x != y)
    if expected == 0:
        return Statistic(None, ONE_CATEGORY)
    return Statistic(1.0 - (n - 1) * observed / expected)


def multi_agreement(
    ratings: Mapping[Item, Mapping[Rater, str]], categories: Sequence[str] = BINARY
) -> MultiAgreement:
    """Agreement of every rater together: percent (pairwise), Gwet's AC1, Krippendorff's alpha.

    Args:
        ratings: item -> (rater -> category).
        categories: the scale.
    """
    units = [list(by_rater.values()) for by_rater in ratings.values() if len(by_rater) >= 2]
    raters = {r for by_rater in ratings.values() for r in by_rater}
    counted = _unit_counts(units, categories)
    percent = (Statistic(sum(_unit_agreement(c) for c in counted) / len(counted))
               if counted else Statistic(None, "no item rated by two or more raters"))
    # Only items at least two raters decided, as for the pairs: a lone rating says nothing
    # about agreement (Gwet's formula would otherwise let it shift the category shares).
    return MultiAgreement(
        categories=tuple(categories), n_items=len(units), n_raters=len(raters),
        percent=percent, ac1=gwet_ac1(units, categories), alpha=krippendorff_alpha(units),
    )
