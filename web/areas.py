"""The review areas' blueprints (imports, dedup, screening, ranking, ...).

Each area is a module web/<name>.py with a blueprint ``bp``; listing it here registers it, so
create_app stays unchanged as areas land.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator

from flask import Blueprint, Response
from flask_login import login_required

AREAS: tuple[str, ...] = ("imports", "screening", "dedup", "ranking", "conflicts")


def blueprints() -> Iterator[Blueprint]:
    """The blueprint of every listed area."""
    for name in AREAS:
        yield importlib.import_module(f"web.{name}").bp


def area_blueprint(name: str, import_name: str, url_prefix: str | None = None) -> Blueprint:
    """A blueprint whose every page needs a signed-in user and whose responses vary on htmx.

    One URL answers with a fragment or a whole page depending on the HX-Request header, so
    caches must key on it.
    """
    bp = Blueprint(name, import_name, url_prefix=url_prefix)
    bp.before_request(_signed_in)
    bp.after_request(_vary)
    return bp


@login_required
def _signed_in() -> None:
    """Nothing to do once signed in; login_required answers the others."""


def _vary(response: Response) -> Response:
    response.vary.add("HX-Request")
    return response
