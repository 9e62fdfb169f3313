"""Large RIS files read in pieces, the next piece parsed ahead in a worker process."""

from __future__ import annotations

import multiprocessing as mp

import pytest

import importers
from review.services import import_io
from review.services import imports as service
from tests.conftest import shared_data

RIS = ("formats", "ris", "asreview__pubmed_zotero.ris")
BROKEN = "TY  - JOUR\nPY  - 2020\nVL  - 3\nER  - \n"


@pytest.fixture
def big(monkeypatch) -> bytes:
    """A RIS file with one broken record, cut into many pieces (small sizes for speed)."""
    return _big(monkeypatch, "mixed")


def _big(monkeypatch, newline: str) -> bytes:
    good = shared_data(*RIS).read_text(encoding="utf-8-sig")
    monkeypatch.setattr(import_io, "STREAM_BYTES", 10_000)
    monkeypatch.setattr(import_io, "PIECE_BYTES", 20_000)
    text = "\r\n".join([good] * 12 + [BROKEN] + [good] * 6)  # mixed line ends
    return (text if newline == "mixed" else text.replace("\r\n", "\n")
            .replace("\n", newline)).encode()


@pytest.mark.parametrize(("parallel", "newline"),
                         [(True, "mixed"), (False, "mixed"), (True, "\n"), (True, "\r\n")])
def test_pieces_give_the_records_and_problems_of_one_parse(monkeypatch, parallel,
                                                           newline) -> None:
    big = _big(monkeypatch, newline)
    whole = importers.parse(big, filename="big.ris")
    pieces = list(import_io.parse_pieces(big, filename="big.ris", parallel=parallel))
    assert len(pieces) > 3
    assert [done for _, done in pieces] == sorted({done for _, done in pieces})
    assert pieces[-1][1] == len(big)
    # Same records (every field, raw tags and "line N" locators of the whole file), in order.
    assert [r for p, _ in pieces for r in p.records] == whole.records
    assert [q for p, _ in pieces for q in p.problems] == whole.problems != []
    assert all(p.format == "ris" and p.encoding == whole.encoding for p, _ in pieces)


@pytest.mark.parametrize("where", ["first", "later"])
def test_a_piece_of_only_unusable_records_lists_them_like_one_parse(big, where) -> None:
    good = big.decode()
    broken = "\r\n".join([BROKEN] * 600)  # more than a piece of records without content
    data = (f"{broken}\r\n{good}" if where == "first" else f"{good}\r\n{broken}").encode()
    whole = importers.parse(data, filename="big.ris")
    pieces = list(import_io.parse_pieces(data, filename="big.ris", parallel=True))
    assert [r for p, _ in pieces for r in p.records] == whole.records
    assert [q for p, _ in pieces for q in p.problems] == whole.problems
    assert len(whole.problems) == 601  # with the one in `big`
    assert mp.active_children() == []


def test_the_worker_stops_when_reading_stops_early(big) -> None:
    pieces = import_io.parse_pieces(big, filename="big.ris", parallel=True)
    next(pieces)
    assert mp.active_children() != []  # the next piece is being parsed ahead
    pieces.close()
    assert mp.active_children() == []


def test_the_worker_stops_when_storing_fails(session, team, big, monkeypatch) -> None:
    def failing(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(service, "store_rows", failing)
    with pytest.raises(RuntimeError):
        service.import_file(session, project_id=team.project.id, user_id=team.lead.id,
                            source_name="PubMed", filename="big.ris", data=big,
                            skip_invalid=True)
    session.rollback()
    assert mp.active_children() == []


def test_small_files_are_parsed_without_a_worker(monkeypatch) -> None:
    data = shared_data(*RIS).read_bytes()
    pieces = list(import_io.parse_pieces(data, filename="small.ris", parallel=True))
    assert len(pieces) == 1 and pieces[0][1] == len(data)
    assert mp.active_children() == []


def test_pieces_parse_ahead_from_a_server_thread(big) -> None:
    # The web server (waitress) imports in worker threads: the spawned worker must work there.
    from concurrent.futures import ThreadPoolExecutor

    def read() -> list[importers.Record]:
        pieces = import_io.parse_pieces(big, filename="big.ris", parallel=True)
        return [r for p, _ in pieces for r in p.records]

    with ThreadPoolExecutor(2) as threads:
        results = [f.result() for f in [threads.submit(read) for _ in range(2)]]
    whole = importers.parse(big, filename="big.ris").records
    assert results == [whole, whole]
    assert mp.active_children() == []
