"""Paths to the shared real export files and to this package's own small fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORMATS_DIR = ROOT.parent / "shared" / "data" / "formats"
FIXTURES = ROOT / "tests" / "fixtures" / "importers"


def real_files() -> list[Path]:
    """Every shared export file (empty where the shared data folder is absent)."""
    if not FORMATS_DIR.exists():
        return []
    return sorted(p for p in FORMATS_DIR.rglob("*") if p.is_file() and p.name != "MANIFEST.tsv")


def real_file(relative: str) -> bytes:
    """Bytes of one shared file; skips the test cleanly when shared data is absent."""
    path = FORMATS_DIR / relative
    if not path.exists():
        pytest.skip(f"shared data not available: {path}")
    return path.read_bytes()


def fixture(name: str) -> bytes:
    """Bytes of one of our own fixtures."""
    return (FIXTURES / name).read_bytes()
