"""Property tests: no input makes `parse` raise anything but ImportFormatError."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import importers
from importers import ImportFormatError, parse

from .conftest import FORMATS_DIR, fixture

# Small real files of every format, so mutations hit each parser.
SEEDS = [
    "ris/rispy__example_extraneous_data.ris",
    "ris/asreview__baseline_tag-notes_zotero.ris",
    "wos/synthesisr__WoS_ciw_example.ciw",
    "bibtex/bibtex_tidy__python-bibtexparser__features.bib",
    "bibtex/bibtex_tidy__others__example1.bib",
    "csv/asreview__generic.csv",
    "csv/synthesisr__eviatlas.tsv",
    "endnote_txt/asreview__pubmed_endnote.txt",
]
OWN = ["pubmed_sample.xml", "endnote_tagged.enw", "csl_sample.json", "wos_tab.txt",
       "ris_vendor_quirks.ris"]
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _seeds() -> list[bytes]:
    seeds = [fixture(name) for name in OWN]
    seeds += [(FORMATS_DIR / rel).read_bytes()[:6000] for rel in SEEDS
              if (FORMATS_DIR / rel).exists()]
    return seeds


def _parse_quietly(data: bytes, name: str, fmt: str = "auto") -> None:
    try:
        result = parse(data, filename=name, format=fmt)
    except ImportFormatError as exc:
        # The catch-all in parse() must never be what produced the error.
        assert "internal error" not in exc.reason, exc.reason
        return
    for record in result.records:
        assert record.locator
        assert record.year is None or isinstance(record.year, int)
        assert record.doi is None or record.doi.startswith("10.")


@SETTINGS
@given(st.binary(max_size=3000), st.sampled_from(["x.ris", "x.bib", "x.csv", "x.xml", "x"]))
def test_arbitrary_bytes(data: bytes, name: str) -> None:
    _parse_quietly(data, name)


@SETTINGS
@given(st.binary(max_size=2000), st.sampled_from(importers.FORMATS))
def test_arbitrary_bytes_forced_format(data: bytes, fmt: str) -> None:
    _parse_quietly(data, "x", fmt)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A real file with random bytes replaced, inserted, deleted or lines shuffled."""
    data = bytearray(draw(st.sampled_from(_seeds())))
    for _ in range(draw(st.integers(1, 8))):
        if not data:
            break
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "dupline"]))
        at = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=20))
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 50))]
        elif kind == "truncate":
            del data[at:]
        else:
            lines = bytes(data).split(b"\n")
            pos = draw(st.integers(0, len(lines) - 1))
            lines.insert(draw(st.integers(0, len(lines))), lines[pos])
            data = bytearray(b"\n".join(lines))
    return bytes(data)


@SETTINGS
@given(mutated(), st.sampled_from(["auto", "ris", "bibtex", "csv", "endnote_xml", "wos"]))
def test_mutated_real_files(data: bytes, fmt: str) -> None:
    _parse_quietly(data, "upload", fmt)


@pytest.mark.parametrize("codec", ["utf-16", "cp1252", "latin-1", "gbk"])
def test_real_ris_in_other_encodings(codec: str) -> None:
    path = FORMATS_DIR / "ris/asreview__pubmed_zotero.ris"
    if not path.exists():
        pytest.skip("shared data not available")
    text = path.read_text(encoding="utf-8")
    original = parse(path.read_bytes(), filename=path.name).records
    again = parse(text.encode(codec, errors="replace"), filename=Path(path).name).records
    assert [r.title for r in again] == [r.title for r in original]
