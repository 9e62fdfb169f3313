"""Person names to the one shape every record uses: "Family, Given"."""

from __future__ import annotations

import re
from functools import lru_cache

_WS = re.compile(r"\s+")
_PAREN = re.compile(r"\s*\([^)]*\)")  # e-mail addresses or affiliations after WoS names
_INITIALS = re.compile(r"^[A-Z]{1,4}$")  # "JA" in MEDLINE "Smith JA" or WoS "Larsen, LJ"
_INITIAL_DOT = re.compile(r"^(?:[A-Z]\.?-?)+$")  # "J.", "J.A.", "J-P", "J"
_VANCOUVER = re.compile(r"^\S.* (?:[A-Z]\.?-?){1,4}$")
_PARTICLES = frozenset(
    "van von der den de del della di da du dos das le la ten ter vander al el bin ibn".split()
)
# Words that mark an organisation: such a name is kept as written, never inverted.
_CORPORATE = re.compile(
    r"\b(?:organi[sz]ation|group|institute|consortium|committee|collaboration|association|"
    r"society|ministry|department|university|council|agency|foundation|trust|centre|center|"
    r"office|bank|network|investigators|team|government|commission|board|inc|ltd|llc|"
    r"authority|service|services|programme|program|unit)\b",
    re.IGNORECASE,
)


def _initials(given: str) -> str:
    """Write bare initials as "J. A."; leave full given names alone."""
    if _INITIALS.match(given):
        return " ".join(f"{c}." for c in given)
    parts = given.split(" ")
    out = []
    for part in parts:
        if _INITIAL_DOT.match(part) and "." not in part and "-" not in part and len(part) == 1:
            out.append(part + ".")
        elif _INITIAL_DOT.match(part) and part.count(".") > 1 and "-" not in part:
            out.append(" ".join(f"{c}." for c in part if c != "."))
        else:
            out.append(part)
    return " ".join(out)


@lru_cache(maxsize=65536)  # the same names recur across records of one file
def normalise_author(name: str) -> str | None:
    """One author name as "Family, Given".

    Handles "Family, Given", "Family,Given", "Family, G.", "Family GI" (MEDLINE), "Given
    Family" and "Given van Family"; organisation names and single words are kept as written.

    Args:
        name: The name as exported.

    Returns:
        The normalised name, or None when nothing is left.
    """
    name = _WS.sub(" ", name).strip(" ;,")
    if "(" in name:
        name = _PAREN.sub("", name).strip(" ;,")
    if not name:
        return None
    if _CORPORATE.search(name):
        return name
    if "," in name:
        family, _, given = name.partition(",")
        family, given = family.strip(), given.strip(" ,")
        if not given:
            return family or None
        return f"{family}, {_initials(given)}"
    parts = name.split(" ")
    if len(parts) == 1:
        return name
    if _INITIALS.match(parts[-1]) and len(parts) >= 2:
        # MEDLINE / Vancouver "Smith JA": the trailing upper-case block is the initials.
        return f"{' '.join(parts[:-1])}, {_initials(parts[-1])}"
    split = len(parts) - 1
    while split > 1 and parts[split - 1].lower() in _PARTICLES:
        split -= 1
    return f"{' '.join(parts[split:])}, {_initials(' '.join(parts[:split]))}"


def normalise_authors(names: list[str]) -> list[str]:
    """Normalise a list of names, dropping empties and keeping file order."""
    out = []
    for name in names:
        norm = normalise_author(name)
        if norm:
            out.append(norm)
    return out


def split_author_string(value: str) -> list[str]:
    """Split one cell holding several authors ("A; B", "A, B. and C" or BibTeX "A and B").

    Semicolons win; else " and "; a comma-only list ("Smith J, Jones K") is split on commas
    when every piece looks like "Family Initials".
    """
    value = value.strip()
    if not value:
        return []
    if ";" in value:
        return [v for v in (p.strip() for p in value.split(";")) if v]
    if " and " in value:
        return [v for v in (p.strip() for p in re.split(r"\s+and\s+", value)) if v]
    pieces = [p.strip() for p in value.split(",") if p.strip()]
    if len(pieces) > 2 and all(" " in p for p in pieces):
        return pieces
    if len(pieces) == 2 and all(_VANCOUVER.match(p) for p in pieces):
        return pieces  # Scopus "Tang J., Wang Y."
    return [value]
