"""Decision rules: several narrow automatic rules, a review band, and per-pair conflicts.

Why narrow rules rather than one weighted score: a near-identical title plus two independent
agreeing fields is strong evidence, whereas a high weighted average can hide a conflict (a
different DOI, another volume of a recurring column). Conflicts here block the automatic rules;
the guard rails in ``groups`` then check whole groups.
"""

from __future__ import annotations

import numpy as np

DISTINCT, REVIEW, AUTO = 0, 1, 2

# (name, explanation) of each rule, indexed by the rule code returned by ``decide``.
RULES = (
    ("none", "no rule fired"),
    ("doi_title", "same DOI and near-identical title"),
    ("doi_no_title", "same DOI, a title missing, authors agree"),
    ("title_plus_two", "near-identical title plus two agreeing fields, no conflict"),
    ("title_authors_plus_two", "similar title, same authors plus two agreeing fields, no conflict"),
    ("title_contained_locators", "one title contains the other; authors, year, volume and "
     "first page agree, no conflict"),
    ("review_doi", "same DOI but other fields disagree"),
    ("review_title", "near-identical title, too little other evidence, or an erratum/reply"),
    ("review_doi_conflict", "identical title and three agreeing fields, but different DOIs"),
    ("review_similar", "similar title and two agreeing fields"),
    ("review_other_issue", "same title, authors and journal in another issue or pages"),
    ("review_preprint", "a preprint and a published version with a similar title and authors"),
    ("review_title_only", "near-identical long titles, a record with little else"),
    ("review_untitled", "a title missing, authors, year, volume and page agree"),
)
_WEIGHTS = {"title": 3.0, "authors": 1.5, "doi": 2.0, "abstract": 1.0, "journal": 0.5,
            "year": 0.5, "volume": 0.5, "page": 0.5}


def agreements(f: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Boolean arrays: which supporting fields agree (NaN compares False, so missing != agree)."""
    with np.errstate(invalid="ignore"):
        return {
            "authors": f["authors"] >= 0.8,
            "year": f["year_gap"] == 0,
            "journal": f["journal"] >= 0.85,
            "volume": f["volume"] == 1,
            "page": f["page"] == 1,
            "abstract": f["abstract"] >= 0.9,
        }


def conflicts(f: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Boolean arrays: which conflicts block an automatic merge of the pair."""
    with np.errstate(invalid="ignore"):
        return {
            "doi": f["doi"] == 0,
            "year": f["year_gap"] > 1,
            "locator": (f["volume"] == 0) | (f["page"] == 0) | (f["issue"] == 0),
            "kind": (f["markers_differ"] > 0) | (f["cochrane_differ"] > 0)
            | (f["preprint_differ"] > 0),
        }


def score(f: dict[str, np.ndarray]) -> np.ndarray:
    """Weighted mean of the available field similarities, 0..1 (for ordering and display)."""
    year = 1.0 - np.minimum(f["year_gap"], 3.0) / 3.0
    parts = {**{k: f[k] for k in _WEIGHTS if k != "year"}, "year": year}
    total = np.zeros(len(f["title"]))
    weight = np.zeros(len(f["title"]))
    for name, w in _WEIGHTS.items():
        present = ~np.isnan(parts[name])
        total[present] += w * parts[name][present]
        weight[present] += w
    return np.divide(total, weight, out=np.zeros_like(total), where=weight > 0)


def decide(f: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decide every pair: (decision codes, rule codes indexing ``RULES``, scores)."""
    agree = agreements(f)
    conf = conflicts(f)
    n_agree = np.sum(np.stack(list(agree.values())), axis=0)
    any_conflict = conf["doi"] | conf["year"] | conf["locator"] | conf["kind"]
    t, ts, doi = f["title"], f["title_set"], f["doi"]
    no_title = np.isnan(t)
    long_title = f["title_length"] >= 40
    with np.errstate(invalid="ignore"):
        candidates = [
            (AUTO, (doi == 1) & ((t >= 0.9) | (ts >= 0.97)) & ~conf["year"] & ~conf["kind"]),
            (AUTO, (doi == 1) & no_title & agree["authors"] & ~conf["year"]),
            (AUTO, (t >= 0.95) & (n_agree >= 2) & ~any_conflict),
            (AUTO, (t >= 0.85) & agree["authors"] & (n_agree >= 3) & ~any_conflict),
            (AUTO, (ts >= 0.97) & agree["authors"] & agree["volume"] & agree["page"]
             & agree["year"] & ~any_conflict),
            # A supplement's DOI is shared by all its abstracts: only similar titles count.
            # Titles in two languages share the DOI, the authors and the year.
            (REVIEW, (doi == 1) & ((t >= 0.6) | no_title | (agree["authors"] & agree["year"]))),
            # Errata, replies and Cochrane versions: never automatic, but shown to a human.
            (REVIEW, ((t >= 0.9) | (ts >= 0.97)) & (n_agree >= 1)
             & ((~conf["doi"] & ~conf["locator"]) | conf["kind"])),
            # One of two DOIs is sometimes simply wrong; everything else agreeing, ask.
            (REVIEW, (t >= 0.95) & (n_agree >= 3) & ~conf["locator"]),
            (REVIEW, (t >= 0.8) & (n_agree >= 2) & ~any_conflict),
            # Same paper title, authors and journal in another issue: an erratum, a conference
            # abstract or a recurring column; a human tells which.
            (REVIEW, (t >= 0.95) & agree["authors"] & agree["journal"] & ~conf["year"]
             & ~conf["doi"] & long_title),
            # A preprint and its published version: other DOI, venue, often year.
            (REVIEW, (f["preprint_differ"] > 0) & (t >= 0.9) & agree["authors"]),
            # Grey literature known by its title alone.
            (REVIEW, (f["sparse"] > 0) & (t >= 0.95) & long_title & ~any_conflict),
            (REVIEW, no_title & agree["authors"] & agree["year"] & agree["volume"]
             & agree["page"]),
        ]
    decision = np.full(len(t), DISTINCT, dtype=np.int8)
    rule = np.zeros(len(t), dtype=np.int8)
    for code, (kind, mask) in enumerate(candidates, start=1):
        fire = mask & (decision == DISTINCT)
        decision[fire] = kind
        rule[fire] = code
    return decision, rule, score(f)
