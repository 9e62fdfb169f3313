"""Build a large realistic deduplication set by repeating real records with perturbations.

Base works are the real records of ../shared/data/dedup (one per true group) and of
../shared/data/screening. Records are either a work's first copy, a light perturbation of it
(a duplicate: case, punctuation, a typo, author format, DOI prefix or dropped DOI, abbreviated
pages, dropped abstract, rarely the year +-1) or, once the real works are used up, a new work
derived from a real one by strong perturbation (40% of title words replaced, other first author,
new DOI and pages), so the set holds new works as well as duplicates.
"""

from __future__ import annotations

import csv
import random
import re
from dataclasses import replace
from pathlib import Path

from dedup_data import DATA, SETS, load_set

from screening.dedup import DedupRecord
from screening.dedup.normalise import fold

SCREENING = DATA.parent / "screening"


def base_works() -> list[DedupRecord]:
    """Real distinct works: one record per true group of the dedup sets plus screening records."""
    # Real sets repeat some works (a label split, one paper in two screening sets): one base
    # per true group and per folded title, so that base works are distinct.
    works: list[DedupRecord] = []
    seen: set[str] = set()
    titles: set[str] = set()
    for name in SETS[:2]:
        records, truth = load_set(name)
        for r in records:
            if truth[r.id] not in seen and r.title and fold(r.title) not in titles:
                seen.add(truth[r.id])
                titles.add(fold(r.title))
                works.append(r)
    rng = random.Random(7)
    for path in sorted(SCREENING.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                title = (row.get("title") or "").strip()
                if not title or fold(title) in titles:
                    continue
                titles.add(fold(title))
                first = rng.randint(1, 2000)
                works.append(DedupRecord(
                    id="", title=title, authors=[row.get("authors") or ""] if row.get("authors")
                    else [], year=int(row["year"]) if (row.get("year") or "").isdigit() else None,
                    journal=row.get("journal") or None, doi=row.get("doi") or None,
                    abstract=row.get("abstract") or None, volume=str(rng.randint(1, 120)),
                    pages=f"{first}-{first + rng.randint(2, 15)}"))
    return works


def _typo(text: str, rng: random.Random) -> str:
    if len(text) < 10:
        return text
    k = rng.randrange(len(text))
    return text[:k] + rng.choice("abcdefghijklmnopqrstuvwxyz") + text[k + 1:]


def light(record: DedupRecord, rng: random.Random) -> DedupRecord:
    """A duplicate as another database would export it."""
    title = record.title or ""
    if rng.random() < 0.3:
        title = title.upper() if rng.random() < 0.5 else title.lower()
    if rng.random() < 0.3:
        title = title.rstrip(".") + "."
    if rng.random() < 0.25:
        title = _typo(title, rng)
    authors = record.authors
    if authors and rng.random() < 0.4:
        authors = [re.sub(r",\s*", " ", a) for a in authors]
    doi = record.doi
    if doi and rng.random() < 0.3:
        doi = None
    elif doi and rng.random() < 0.3:
        doi = "https://doi.org/" + doi.upper()
    pages = record.pages
    found = re.fullmatch(r"(\d+)-(\d+)", pages or "")
    if found and rng.random() < 0.5 and len(found.group(1)) == len(found.group(2)):
        a, b = found.groups()
        k = next((i for i in range(len(a)) if a[i] != b[i]), len(a) - 1)
        pages = f"{a}-{b[k:]}"
    year = record.year
    if year and rng.random() < 0.03:
        year += rng.choice((-1, 1))
    abstract = None if rng.random() < 0.3 else record.abstract
    return replace(record, title=title, authors=authors, doi=doi, pages=pages, year=year,
                   abstract=abstract)


def strong(record: DedupRecord, vocab: list[str], serial: int, rng: random.Random
           ) -> DedupRecord:
    """A different work that looks like ``record``: other title words, authors, DOI, pages."""
    words = (record.title or "").split()
    for k in rng.sample(range(len(words)), max(2, int(0.4 * len(words))) if len(words) > 2 else 0):
        words[k] = rng.choice(vocab)
    authors = [f"{rng.choice(vocab).title()}, {rng.choice('ABCDEFGHJKLMNPRSTW')}."] + (
        record.authors[1:] if record.authors else [])
    first = rng.randint(1, 3000)
    return replace(record, title=" ".join(words), authors=authors,
                   doi=f"10.9999/synth.{serial}", pages=f"{first}-{first + rng.randint(2, 20)}",
                   volume=str(rng.randint(1, 150)), year=(record.year or 2000) + rng.randint(-3, 3),
                   abstract=None)


def synthetic(n: int, duplicate_share: float = 0.35, seed: int = 1
              ) -> tuple[list[DedupRecord], dict[str, str]]:
    """``n`` records with their true work ids; about ``duplicate_share`` are duplicates."""
    rng = random.Random(seed)
    bases = base_works()
    rng.shuffle(bases)
    vocab = sorted({w for b in bases[:3000] for w in (b.title or "").split() if len(w) > 4})
    n_works = int(n * (1 - duplicate_share))
    works = [bases[k] if k < len(bases) else strong(bases[k % len(bases)], vocab, k, rng)
             for k in range(n_works)]
    records: list[DedupRecord] = []
    truth: dict[str, str] = {}
    for k, work in enumerate(works):
        rid = f"r{len(records):07d}"
        records.append(replace(work, id=rid))
        truth[rid] = f"w{k}"
    while len(records) < n:
        k = rng.randrange(n_works)
        rid = f"r{len(records):07d}"
        records.append(replace(light(works[k], rng), id=rid))
        truth[rid] = f"w{k}"
    order = list(range(n))
    rng.shuffle(order)
    return [records[i] for i in order], truth


def write_csv(records: list[DedupRecord], truth: dict[str, str], path: Path) -> None:
    """Save a synthetic set in the labelled CSV layout (to inspect it or feed other tools)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["record_id", "title", "authors", "year", "journal", "volume", "issue",
                      "pages", "doi", "abstract", "isbn", "source_db", "true_group"])
        for r in records:
            out.writerow([r.id, r.title, "; ".join(r.authors), r.year, r.journal, r.volume,
                          r.issue, r.pages, r.doi, r.abstract, r.isbn, r.source, truth[r.id]])
