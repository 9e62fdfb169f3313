"""Agreement between reviewers per stage and per pair, from the stored decisions.

Gathers the decisions and hands them to :mod:`screening.agreement`. Blinding: a lead sees
every pair over every record both decided; anyone else sees the figures only over records
that already have all their decisions, so no figure can reveal a decision on a record someone
has still to screen.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from review.errors import ValidationError
from review.models import STAGES, Decision, Project, Record, User
from review.services.projects import READ, require_project, role_in
from screening.agreement import (
    BINARY,
    LABELS,
    MultiAgreement,
    PairAgreement,
    Statistic,
    multi_agreement,
    pair_agreement,
    to_binary,
)

SCALES = {"binary": BINARY, "labels": LABELS}
Ratings = Mapping[int, Mapping[int, str]]  # record id -> reviewer id -> label


@dataclass(frozen=True)
class PairRow:
    """Agreement of two reviewers."""

    reviewer_a: str
    reviewer_b: str
    agreement: PairAgreement


@dataclass(frozen=True)
class StageAgreement:
    """Every reviewer pair of a stage on one scale, and all reviewers together when > 2."""

    stage: str
    scale: str
    pairs: list[PairRow]
    overall: MultiAgreement | None


def _check(stage: str, scale: str) -> None:
    if stage not in STAGES:
        raise ValidationError(f"stage must be one of {', '.join(STAGES)}", field="stage")
    if scale not in SCALES:
        raise ValidationError(f"scale must be one of {', '.join(SCALES)}", field="scale")


def agreement_of(ratings: Ratings, names: Mapping[int, str], *, stage: str,
                 scale: str = "binary") -> StageAgreement:
    """Pairs (with any shared record) and, with more than two reviewers, everyone together.

    Args:
        ratings: record id -> reviewer id -> label (include, exclude or maybe).
        names: reviewer id -> display name.
        stage: the stage the decisions belong to.
        scale: "binary" (maybe counts as include, as in the conflict rule) or "labels".
    """
    _check(stage, scale)
    categories = SCALES[scale]
    convert = to_binary if scale == "binary" else str
    by_reviewer: dict[int, dict[int, str]] = defaultdict(dict)
    for record_id, votes in ratings.items():
        for reviewer_id, label in votes.items():
            by_reviewer[reviewer_id][record_id] = convert(label)
    ordered = sorted(by_reviewer, key=lambda rid: (names.get(rid, ""), rid))
    pairs = []
    for a, b in combinations(ordered, 2):
        result = pair_agreement(by_reviewer[a], by_reviewer[b], categories)
        if result.n:
            pairs.append(PairRow(names.get(a, str(a)), names.get(b, str(b)), result))
    overall = None
    if len(ordered) > 2:
        converted = {rec: {rev: convert(lab) for rev, lab in votes.items()}
                     for rec, votes in ratings.items()}
        overall = multi_agreement(converted, categories)
    return StageAgreement(stage, scale, pairs, overall)


def _stage_ratings(
    session: Session, *, project: Project, stage: str, complete_only: bool
) -> tuple[dict[int, dict[int, str]], dict[int, str]]:
    quota_col = Record.quota_ta if stage == "title_abstract" else Record.quota_ft
    default = project.reviewers_ta if stage == "title_abstract" else project.reviewers_ft
    rows = session.execute(
        sa.select(Decision.record_id, Decision.reviewer_id, Decision.label, quota_col, User.name)
        .join(Record, Record.id == Decision.record_id)
        .join(User, User.id == Decision.reviewer_id)
        .where(Decision.project_id == project.id, Decision.stage == stage,
               Record.canonical_id.is_(None))
    )
    ratings: dict[int, dict[int, str]] = defaultdict(dict)
    quotas: dict[int, int] = {}
    names: dict[int, str] = {}
    for record_id, reviewer_id, label, quota, name in rows:
        ratings[record_id][reviewer_id] = label
        quotas[record_id] = quota or default
        names[reviewer_id] = name
    if complete_only:
        ratings = defaultdict(dict, {rid: votes for rid, votes in ratings.items()
                                     if len(votes) >= quotas[rid]})
    return ratings, names


def stage_agreement(
    session: Session, *, project_id: int, user_id: int, stage: str, scale: str = "binary"
) -> StageAgreement:
    """Agreement at a stage for any member (see the module note on blinding)."""
    project = require_project(session, project_id=project_id, user_id=user_id, roles=READ)
    _check(stage, scale)
    lead = role_in(session, project_id=project_id, user_id=user_id) == "lead"
    ratings, names = _stage_ratings(session, project=project, stage=stage,
                                    complete_only=not lead)
    return agreement_of(ratings, names, stage=stage, scale=scale)


CSV_CELLS = [f"a_{x}_b_{y}" for x in LABELS for y in LABELS]
CSV_HEADER = ["stage", "scale", "reviewer_a", "reviewer_b", "n", "percent_agreement",
              "cohen_kappa", "pabak", "gwet_ac1", "krippendorff_alpha", "note", *CSV_CELLS]


def _fmt(stat: Statistic | None) -> str:
    return "" if stat is None or stat.value is None else f"{stat.value:.4f}"


def _cell(text: str) -> str:
    # A name starting like a formula would run as one in a spreadsheet (CSV injection).
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _notes(*stats: Statistic) -> str:
    return "; ".join(sorted({s.note for s in stats if s.note}))


def agreement_rows(results: list[StageAgreement]) -> list[list[str]]:
    """The CSV rows (without header) for some stage agreements."""
    rows = []
    for result in results:
        for pair in result.pairs:
            a = pair.agreement
            cells = {f"a_{x}_b_{y}": str(a.table[i][j])
                     for i, x in enumerate(a.categories) for j, y in enumerate(a.categories)}
            rows.append([result.stage, result.scale, _cell(pair.reviewer_a),
                         _cell(pair.reviewer_b), str(a.n),
                         _fmt(a.percent), _fmt(a.kappa), _fmt(a.pabak), _fmt(a.ac1), "",
                         _notes(a.percent, a.kappa, a.pabak, a.ac1),
                         *[cells.get(c, "") for c in CSV_CELLS]])
        if result.overall is not None:
            m = result.overall
            rows.append([result.stage, result.scale, "all reviewers", f"{m.n_raters} reviewers",
                         str(m.n_items), _fmt(m.percent), "", "", _fmt(m.ac1), _fmt(m.alpha),
                         _notes(m.percent, m.ac1, m.alpha), *[""] * len(CSV_CELLS)])
    return rows


def agreement_csv(session: Session, *, project_id: int, user_id: int) -> str:
    """Every stage on both scales as CSV: one row per reviewer pair, plus all reviewers."""
    results = [stage_agreement(session, project_id=project_id, user_id=user_id, stage=stage,
                               scale=scale)
               for stage in STAGES for scale in SCALES]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(agreement_rows(results))
    return out.getvalue()
