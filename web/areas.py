"""The review areas' blueprints (imports, dedup, screening, ranking, ...).

Each area is a module web/<name>.py with a blueprint ``bp``; listing it here registers it, so
create_app stays unchanged as areas land.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator

from flask import Blueprint

AREAS: tuple[str, ...] = ("imports", "screening", "dedup", "ranking", "conflicts")


def blueprints() -> Iterator[Blueprint]:
    """The blueprint of every listed area."""
    for name in AREAS:
        yield importlib.import_module(f"web.{name}").bp
