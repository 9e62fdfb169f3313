"""Turning posted forms into the plain values services take."""

from __future__ import annotations

from typing import Any

from werkzeug.datastructures import MultiDict

from review.errors import ValidationError


def protocol_changes(form: MultiDict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """The protocol fields and the ordered exclusion reasons from the protocol form."""
    changes: dict[str, Any] = {
        "title": form.get("title", ""),
        "question": form.get("question", ""),
        "inclusion_criteria": form.get("inclusion_criteria", ""),
        "exclusion_criteria": form.get("exclusion_criteria", ""),
        "include_terms": _lines(form.get("include_terms", "")),
        "exclude_terms": _lines(form.get("exclude_terms", "")),
        "reviewers_ta": _int(form, "reviewers_ta"),
        "reviewers_ft": _int(form, "reviewers_ft"),
        "dual_fraction_ta": _fraction(form, "dual_fraction_ta"),
        "dual_fraction_ft": _fraction(form, "dual_fraction_ft"),
        "reason_required_ta": form.get("reason_required_ta") == "on",
        "conflict_on_reason_ft": form.get("conflict_on_reason_ft") == "on",
    }
    return changes, _lines(form.get("reasons", ""))


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


def _int(form: MultiDict[str, str], name: str) -> int:
    try:
        return int(form.get(name, ""))
    except ValueError as exc:
        raise ValidationError(f"{name.replace('_', ' ')} must be a whole number",
                              field=name) from exc


def _fraction(form: MultiDict[str, str], name: str) -> float | None:
    text = form.get(name, "").strip().rstrip("%")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError as exc:
        raise ValidationError(f"{name.replace('_', ' ')} must be a percentage",
                              field=name) from exc
    return value / 100 if value > 1 else value
