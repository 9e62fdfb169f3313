"""The import service: real files in, all or nothing, skip-invalid, re-uploads, mapping, roles."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

import importers
from review.errors import ConflictError, NotFound, PermissionDenied, ValidationError
from review.models import ImportBatch, Job, Record, Source
from review.services import imports as service
from tests.conftest import shared_data
from tests.imports.conftest import ris_records_in, stored

RIS = ("formats", "ris", "asreview__pubmed_zotero.ris")
BROKEN = "TY  - JOUR\nPY  - 2020\nVL  - 3\nER  - \n"


def _import(session, team, data, filename="refs.ris", **kwargs):
    kwargs.setdefault("source_name", "PubMed")
    kwargs.setdefault("source_kind", "database")
    report = service.import_file(session, project_id=team.project.id, user_id=team.lead.id,
                                 filename=filename, data=data, **kwargs)
    session.commit()
    return report


def test_real_ris_file_stores_every_record_with_raw_fields(session, team) -> None:
    path = shared_data(*RIS)
    data = path.read_bytes()
    report = _import(session, team, data, path.name)
    expected = ris_records_in(data.decode("utf-8-sig"))
    assert (report.n_read, report.n_imported, report.n_skipped) == (expected, expected, 0)
    assert report.format == "ris" and report.batch_id
    records = session.scalars(sa.select(Record).where(Record.batch_id == report.batch_id)
                              .order_by(Record.id)).all()
    assert len(records) == expected
    first = records[0]
    assert first.title.startswith("The importance of cognitive flexibility")
    assert first.authors[0] == "Rudnik, Agata" and first.year == 2019
    assert first.doi == "10.5114/pg.2018.81081"
    assert first.raw["DO"] == "10.5114/pg.2018.81081" and first.locator == "line 1"
    assert stored(session, team.project.id) == {"records": expected, "batches": 1,
                                                 "sources": 1, "events": 1}


def test_every_shared_format_file_imports_or_is_refused_cleanly(session, team) -> None:
    root = shared_data("formats")
    paths = sorted(p for p in root.rglob("*") if p.is_file() and p.name != "MANIFEST.tsv")
    assert len(paths) > 100
    refused = 0
    for path in paths:
        before = stored(session, team.project.id)["records"]
        try:
            report = service.import_file(
                session, project_id=team.project.id, user_id=team.lead.id, source_name="Mixed",
                filename=path.name, data=path.read_bytes(), skip_invalid=True, force=True)
        except service.ImportRejected as exc:
            session.rollback()
            refused += 1
            assert str(exc).startswith(path.name) and exc.problems, path
            assert stored(session, team.project.id)["records"] == before
            continue
        session.commit()
        parsed = importers.parse(path.read_bytes(), filename=path.name)
        assert report.n_imported == len(parsed.records) > 0, path
        assert stored(session, team.project.id)["records"] == before + report.n_imported
    assert refused < len(paths) // 5


def test_a_bad_record_refuses_the_whole_file(session, team) -> None:
    good = shared_data(*RIS).read_text(encoding="utf-8-sig")
    data = (good + "\n" + BROKEN).encode()
    broken_line = len((good + "\n").splitlines()) + 1
    with pytest.raises(service.ImportRejected) as info:
        service.import_file(session, project_id=team.project.id, user_id=team.lead.id,
                            source_name="PubMed", filename="mixed.ris", data=data)
    session.rollback()
    message = str(info.value)
    assert f"mixed.ris, line {broken_line}: no title, author, abstract or DOI" in message
    assert "nothing was imported" in message
    assert info.value.problems == [("mixed.ris", f"line {broken_line}",
                                    "no title, author, abstract or DOI (has PY, VL)")]
    assert stored(session, team.project.id) == {"records": 0, "batches": 0, "sources": 0,
                                                 "events": 0}


def test_skip_invalid_stores_the_valid_records_and_keeps_the_skipped_list(session, team) -> None:
    good = shared_data(*RIS).read_text(encoding="utf-8-sig")
    data = (BROKEN + "\n" + good).encode()
    report = _import(session, team, data, "mixed.ris", skip_invalid=True)
    n_good = ris_records_in(good)
    assert (report.n_read, report.n_imported, report.n_skipped) == (n_good + 1, n_good, 1)
    batch = session.get(ImportBatch, report.batch_id)
    assert batch.skipped == [{"locator": "line 1",
                              "reason": "no title, author, abstract or DOI (has PY, VL)"}]
    assert stored(session, team.project.id)["records"] == n_good


def test_unreadable_file_names_file_and_reason(session, team) -> None:
    with pytest.raises(service.ImportRejected) as info:
        service.import_file(session, project_id=team.project.id, user_id=team.lead.id,
                            source_name="X", filename="notes.txt", data=b"just some words\n")
    assert str(info.value).startswith("notes.txt") and "unknown format" in str(info.value)


def test_same_file_twice_is_refused_then_forced(session, team) -> None:
    data = shared_data(*RIS).read_bytes()
    first = _import(session, team, data, "a.ris")
    with pytest.raises(ConflictError) as info:
        service.import_file(session, project_id=team.project.id, user_id=team.reviewer.id,
                            source_name="PubMed", filename="b.ris", data=data)
    session.rollback()
    message = str(info.value)
    assert f"batch {first.batch_id} (a.ris" in message
    assert session.get(ImportBatch, first.batch_id).created_at.strftime("%Y-%m-%d") in message
    again = _import(session, team, data, "b.ris", force=True)
    assert again.forced and again.n_imported == first.n_imported
    assert stored(session, team.project.id)["records"] == 2 * first.n_imported


def test_user_mapping_changes_what_is_stored(session, team) -> None:
    path = shared_data("formats", "csv", "asreview__generic.csv")
    data = path.read_bytes()
    guessed = service.preview(data, path.name)
    assert guessed.mapping["title"] == "title" and guessed.mapping["abstract"] == "abstract"
    swapped = {**guessed.mapping, "title": "abstract", "abstract": "title"}
    report = _import(session, team, data, path.name, mapping=swapped)
    record = session.scalars(sa.select(Record).where(Record.batch_id == report.batch_id)
                             .order_by(Record.id)).first()
    assert record.abstract == guessed.records[0].title
    assert record.title == guessed.records[0].abstract
    assert session.get(ImportBatch, report.batch_id).mapping["title"] == "abstract"


def test_viewers_and_outsiders_cannot_import(session, team) -> None:
    data = shared_data(*RIS).read_bytes()
    with pytest.raises(PermissionDenied):
        service.import_file(session, project_id=team.project.id, user_id=team.viewer.id,
                            source_name="PubMed", filename="a.ris", data=data)
    with pytest.raises(NotFound):
        service.import_file(session, project_id=team.project.id, user_id=team.outsider.id,
                            source_name="PubMed", filename="a.ris", data=data)
    session.rollback()
    assert stored(session, team.project.id)["records"] == 0


def test_reviewers_may_import_and_the_source_is_made_once(session, team) -> None:
    data = shared_data(*RIS).read_bytes()
    service.import_file(session, project_id=team.project.id, user_id=team.reviewer.id,
                        source_name="  Gov.uk   pages ", source_kind="other", filename="a.ris",
                        data=data)
    service.import_file(session, project_id=team.project.id, user_id=team.lead.id,
                        source_name="Gov.uk pages", source_kind="other", filename="b.ris",
                        data=data, force=True)
    session.commit()
    sources = session.scalars(sa.select(Source).where(Source.project_id == team.project.id)).all()
    assert [(s.name, s.kind) for s in sources] == [("Gov.uk pages", "other")]
    with pytest.raises(ValidationError):
        service.import_file(session, project_id=team.project.id, user_id=team.lead.id,
                            source_name="New", source_kind="website", filename="c.ris",
                            data=data, force=True)


def test_import_queues_dedup_and_retrain_once(session, team) -> None:
    data = shared_data(*RIS).read_bytes()
    _import(session, team, data, "a.ris")
    _import(session, team, data, "b.ris", force=True)
    kinds = session.scalars(sa.select(Job.kind).where(Job.project_id == team.project.id,
                                                      Job.status == "queued")).all()
    assert sorted(kinds) == ["dedup", "retrain"]


def test_several_files_are_all_or_nothing(session, team) -> None:
    good = shared_data(*RIS).read_bytes()
    files = [service.UploadedFile("good.ris", good),
             service.UploadedFile("bad.ris", BROKEN.encode())]
    with pytest.raises(service.ImportRejected) as info:
        service.import_files(session, project_id=team.project.id, user_id=team.lead.id,
                             source_name="PubMed", files=files)
    session.rollback()
    assert "1 of 2 files refused" in str(info.value) and "bad.ris" in str(info.value)
    assert stored(session, team.project.id)["records"] == 0


def test_over_long_values_and_nul_characters_are_stored_safely(session, team) -> None:
    data = ("TY  - JOUR\nTI  - A title\x00 with a NUL\nVL  - " + "9" * 400 +
            "\nDO  - 10.1234/abc\nER  - \n").encode()
    report = _import(session, team, data, "odd.ris")
    record = session.scalars(sa.select(Record).where(Record.batch_id == report.batch_id)).one()
    assert record.title == "A title with a NUL"
    assert record.volume == "9" * 100 and record.raw["VL"] == "9" * 400


def test_preview_reads_without_storing(session, team) -> None:
    path = shared_data("formats", "csv", "asreview__generic_tab.tsv")
    result = service.preview(path.read_bytes(), path.name)
    assert result.error is None and result.format == "csv" and result.columns
    assert len(result.records) == min(service.PREVIEW_RECORDS, result.n_records) > 0
    bad = service.preview(b"\x00\x01 nothing", "x.bin")
    assert bad.error and bad.error.startswith("x.bin")
    assert stored(session, team.project.id)["records"] == 0


def test_convert_round_trip_keeps_the_normalised_records() -> None:
    path = shared_data(*RIS)
    for target in ("out.ris", "out.csv", "out.bib", "out.jsonl"):
        data, first = service.convert(path.read_bytes(), filename=path.name, target=target)
        again = importers.parse(data, filename=target)
        assert [r.title for r in again.records] == [r.title for r in first.records], target
        assert [r.doi for r in again.records] == [r.doi for r in first.records], target
    with pytest.raises(ValidationError):
        service.convert(path.read_bytes(), filename=path.name, target="out.docx")


def test_large_ris_read_in_pieces_gives_the_same_records_and_lines(session, team,
                                                                   monkeypatch) -> None:
    from review.services import import_io as import_pieces

    good = shared_data(*RIS).read_text(encoding="utf-8-sig")
    text = "\r\n".join([good] * 30 + [BROKEN] + [good] * 10)
    data = text.encode()
    whole = importers.parse(data, filename="big.ris")
    monkeypatch.setattr(import_pieces, "STREAM_BYTES", 10_000)
    monkeypatch.setattr(import_pieces, "PIECE_BYTES", 8_000)
    pieces = list(import_pieces.parse_pieces(data, filename="big.ris"))
    assert len(pieces) > 5
    assert [r.locator for p, _ in pieces for r in p.records] == \
        [r.locator for r in whole.records]
    assert [(q.locator, q.reason) for p, _ in pieces for q in p.problems] == \
        [(q.locator, q.reason) for q in whole.problems] != []
    with pytest.raises(service.ImportRejected) as info:
        service.import_file(session, project_id=team.project.id, user_id=team.lead.id,
                            source_name="PubMed", filename="big.ris", data=data)
    session.rollback()
    assert f"big.ris, {whole.problems[0].locator}: no title" in str(info.value)
    assert stored(session, team.project.id)["records"] == 0
    report = _import(session, team, data, "big.ris", skip_invalid=True)
    assert (report.n_imported, report.n_skipped) == (len(whole.records), 1)
    glimpse = service.preview(data, "big.ris")
    assert glimpse.partial and glimpse.records[0].locator == whole.records[0].locator
    assert abs(glimpse.n_records - len(whole.records)) < len(whole.records) * 0.2
    rows = session.scalars(sa.select(Record).where(Record.batch_id == report.batch_id)
                           .order_by(Record.id)).all()
    # Rows written in bulk read back as the parsed records: every field, JSON and raw tags.
    assert [_fields(r) for r in rows] == [_fields(r) for r in whole.records]
    assert all(r.project_id == team.project.id and r.created_at is not None for r in rows)
    assert len({r.created_at for r in rows}) == 1


def _fields(record: Record | importers.Record) -> tuple:
    source_id = getattr(record, "source_record_id", getattr(record, "source_id", None))
    return (source_id, record.locator, record.title, record.abstract, record.authors,
            record.year, record.journal, record.volume, record.issue, record.pages, record.doi,
            record.pmid, record.issn, record.isbn, record.url, record.keywords,
            record.language, record.publication_type, record.publisher, record.raw)


def _planned_rows(session) -> float | None:
    """PostgreSQL's estimate of the records table's rows (set by ANALYZE), else None."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    return session.scalar(sa.text("SELECT reltuples FROM pg_class "
                                  "WHERE oid = 'records'::regclass"))


def test_a_large_import_refreshes_the_planner_statistics(session, team, monkeypatch) -> None:
    from review.services import import_io

    data = shared_data(*RIS).read_bytes()
    n = ris_records_in(data.decode("utf-8-sig"))
    monkeypatch.setattr(import_io, "ANALYZE_MIN_RECORDS", n + 1)
    before = _planned_rows(session)
    _import(session, team, data, "small.ris")  # below the threshold: no ANALYZE
    assert _planned_rows(session) == before
    monkeypatch.setattr(import_io, "ANALYZE_MIN_RECORDS", n)
    report = service.import_file(session, project_id=team.project.id, user_id=team.lead.id,
                                 source_name="PubMed", filename="large.ris", data=data,
                                 force=True)
    if before is not None:  # PostgreSQL: ANALYZE ran in the import's transaction
        assert before != 2 * n and _planned_rows(session) == 2 * n
    session.commit()
    assert report.n_imported == n
    assert stored(session, team.project.id)["records"] == 2 * n


def test_list_literal_cells_become_lists(session, team) -> None:
    # ASReview's CSV export writes authors as "['Marx, Karl', 'Lindgren, Astrid']".
    path = shared_data("formats", "csv", "asreview__generic.csv")
    report = _import(session, team, path.read_bytes(), path.name)
    first = session.scalars(sa.select(Record).where(Record.batch_id == report.batch_id)
                            .order_by(Record.id)).first()
    assert first.authors == ["Marx, Karl", "Lindgren, Astrid"]
    assert first.keywords == ["Pippi", "Nordwind", "Piraten"]
    assert service.preview(path.read_bytes(), path.name).records[0].authors == first.authors
