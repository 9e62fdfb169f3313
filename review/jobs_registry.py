"""Imports every module that registers job handlers, so a worker knows all job kinds.

One import line per area.
"""
from review.services import (
    dedup,  # noqa: F401  (dedup)
    ranking,  # noqa: F401  (retrain)
)
