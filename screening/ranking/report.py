"""Files a simulation writes (metrics.json, order.csv, a recall-curve SVG) and the CSV it reads."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import numpy as np

from .features import record_text
from .simulate import SimulationResult

__all__ = [
    "LabelledSet",
    "read_labelled_csv",
    "write_metrics_json",
    "write_order_csv",
    "write_recall_svg",
]


@dataclass(frozen=True)
class LabelledSet:
    """A labelled screening set read from CSV."""

    texts: list[str]
    labels: np.ndarray
    record_ids: list[str]


def read_labelled_csv(path: str | Path, *, with_journal: bool = False) -> LabelledSet:
    """Read a CSV with `title,abstract,label_included` (and `record_id` when present).

    Args:
        path: the CSV file (UTF-8).
        with_journal: also put the `journal` column (if any) into the text.

    Returns:
        The texts, 0/1 labels and record ids (the 0-based row when there is no record_id).

    Raises:
        ValueError: naming the file and line of a missing column or a bad label.
    """
    path = Path(path)
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        cols = set(reader.fieldnames or [])
        missing = {"title", "abstract", "label_included"} - cols
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        texts, labels, ids = [], [], []
        for i, row in enumerate(reader):
            raw = (row["label_included"] or "").strip()
            if raw not in {"0", "1", "0.0", "1.0"}:
                raise ValueError(
                    f"{path}, line {i + 2}: label_included must be 0 or 1, got {raw!r}"
                )
            journal = row.get("journal") if with_journal else None
            texts.append(record_text(row["title"], row["abstract"], None, journal))
            labels.append(int(float(raw)))
            ids.append(row["record_id"] if "record_id" in cols else str(i))
    return LabelledSet(texts, np.asarray(labels, dtype=np.int64), ids)


def write_metrics_json(path: str | Path, result: SimulationResult | dict[str, Any]) -> None:
    """Write metrics.json (the keys of METRIC_KEYS, in order)."""
    metrics = result.metrics if isinstance(result, SimulationResult) else result
    Path(path).write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")


def write_order_csv(path: str | Path, result: SimulationResult) -> None:
    """Write order.csv: position,record_id,label_included,is_prior (the full order)."""
    o = result.order
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["position", "record_id", "label_included", "is_prior"])
        for pos, rid, lab, prior in zip(
            o.positions, o.record_ids, o.labels, o.is_prior, strict=True
        ):
            w.writerow([int(pos), rid, int(lab), int(bool(prior))])


def write_recall_svg(path: str | Path, result: SimulationResult, *, title: str = "") -> None:
    """Write a plain SVG of includes found against records screened, with the random line."""
    Path(path).write_text(recall_svg(result.order.labels, title=title), encoding="utf-8")


def recall_svg(
    labels_in_order: Any, *, title: str = "", width: int = 480, height: int = 320
) -> str:
    """Return the SVG text of a recall curve for 0/1 labels in screening order."""
    y = np.asarray(labels_in_order, dtype=np.int64)
    n, n_inc = int(y.size), max(int(y.sum()), 1)
    m = 40  # margin for the axes labels
    pw, ph = width - 2 * m, height - 2 * m
    found = np.concatenate([[0], np.cumsum(y)])
    # at most ~500 points keeps the file small for 100k records
    idx = np.unique(np.linspace(0, n, min(n + 1, 500)).astype(int))
    pts = " ".join(f"{m + pw * i / n:.1f},{m + ph * (1 - found[i] / n_inc):.1f}" for i in idx)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">\n'
        f"<title>{escape(title or 'Recall curve')}</title>\n"
        f'<rect x="{m}" y="{m}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>\n'
        f'<line x1="{m}" y1="{m + ph}" x2="{m + pw}" y2="{m}" stroke="#bbb" '
        'stroke-dasharray="4 3"/>\n'
        f'<polyline points="{pts}" fill="none" stroke="#1f5fa8" stroke-width="1.5"/>\n'
        f'<text x="{m + pw / 2}" y="{height - 8}" text-anchor="middle">'
        f"records screened (of {n})</text>\n"
        f'<text x="12" y="{m + ph / 2}" transform="rotate(-90 12 {m + ph / 2})" '
        f'text-anchor="middle">includes found (of {int(y.sum())})</text>\n'
        f'<text x="{m}" y="{m - 10}">{escape(title)}</text>\n'
        "</svg>\n"
    )
