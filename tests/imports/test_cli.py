"""`sieve import`, `sieve convert` and `sieve attach-pdfs`."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import importers
from review.services import demo
from tests.conftest import shared_data
from tests.factories import make_records
from tests.imports.conftest import make_pdf, ris_records_in, stored
from web.cli import cli

RIS = ("formats", "ris", "asreview__pubmed_zotero.ris")


@pytest.fixture
def runner(db_url: str, tmp_path) -> CliRunner:
    return CliRunner(env={"DATABASE_URL": db_url, "SIEVE_INSTANCE": str(tmp_path / "instance")})


def test_import_prints_counts_and_refuses_a_reupload(runner, team, session) -> None:
    path = shared_data(*RIS)
    n = ris_records_in(path.read_text(encoding="utf-8-sig"))
    pid = str(team.project.id)
    done = runner.invoke(cli, ["import", pid, str(path), "--source", "PubMed",
                               "--as", team.reviewer.email])
    assert done.exit_code == 0, done.output
    assert f"{path.name}: ris (utf-8), {n} read, {n} imported, 0 skipped" in done.output
    again = runner.invoke(cli, ["import", pid, str(path), "--source", "PubMed"])
    assert again.exit_code == 1 and "already imported as batch" in again.output
    assert "Traceback" not in again.output
    forced = runner.invoke(cli, ["import", pid, str(path), "--source", "PubMed", "--force",
                                 "--json"])
    assert forced.exit_code == 0, forced.output
    report = json.loads(forced.output)["files"][0]
    assert report["n_imported"] == n and report["forced"] is True
    assert stored(session, team.project.id)["records"] == 2 * n


def test_import_json_lists_skipped_records_and_refusals(runner, team, tmp_path,
                                                        session) -> None:
    good = shared_data(*RIS).read_text(encoding="utf-8-sig")
    mixed = tmp_path / "mixed.ris"
    mixed.write_text("TY  - JOUR\nPY  - 2020\nER  - \n\n" + good)
    pid = str(team.project.id)
    refused = runner.invoke(cli, ["import", pid, str(mixed), "--source", "X", "--json"])
    assert refused.exit_code == 1
    assert "mixed.ris, line 1: no title" in json.loads(refused.output)["error"]
    assert stored(session, team.project.id)["records"] == 0
    skipped = runner.invoke(cli, ["import", pid, str(mixed), "--source", "X", "--json",
                                  "--skip-invalid", "--source-kind", "other"])
    assert skipped.exit_code == 0, skipped.output
    report = json.loads(skipped.output)["files"][0]
    assert report["n_skipped"] == 1 and report["skipped"][0]["locator"] == "line 1"
    viewer = runner.invoke(cli, ["import", pid, str(mixed), "--source", "X", "--force",
                                 "--as", team.viewer.email])
    assert viewer.exit_code == 1 and "needs the role" in viewer.output


def test_convert_round_trip(runner, tmp_path) -> None:
    source = shared_data(*RIS)
    first = importers.parse(source.read_bytes(), filename=source.name).records
    for ending in (".csv", ".bib", ".ris", ".json", ".jsonl", ".xlsx"):
        out = tmp_path / f"refs{ending}"
        result = runner.invoke(cli, ["convert", str(source), str(out)])
        assert result.exit_code == 0, result.output
        back = importers.parse(out.read_bytes(), filename=out.name).records
        assert [(r.title, r.doi, r.year) for r in back] == \
            [(r.title, r.doi, r.year) for r in first], ending
        assert [r.authors for r in back] == [r.authors for r in first], ending
    bad = runner.invoke(cli, ["convert", str(source), str(tmp_path / "refs.docx")])
    assert bad.exit_code == 1 and "cannot write .docx" in bad.output


def test_attach_pdfs_from_a_folder(runner, team, session, tmp_path) -> None:
    record = make_records(session, team.project, 1, doi="10.5555/xyz.1",
                          title="A record with a matching PDF file")[0]
    session.commit()
    folder = tmp_path / "pdfs"
    folder.mkdir()
    (folder / "a.pdf").write_bytes(make_pdf(["A paper", "doi: 10.5555/XYZ.1"]))
    (folder / "b.pdf").write_bytes(b"%PDF-1.4 broken")
    result = runner.invoke(cli, ["attach-pdfs", str(team.project.id), str(folder)])
    assert result.exit_code == 0, result.output
    assert f"attached a.pdf -> record {record.id} (by doi" in result.output
    assert "refused b.pdf: corrupt or unreadable PDF" in result.output
    assert "1 of 2 PDFs attached" in result.output


def test_demo_imports_the_bundled_records(session) -> None:
    info = demo.ensure_demo(session)
    session.commit()
    assert stored(session, info.project_id)["records"] == 2019
    assert stored(session, info.project_id)["sources"] == 1


def test_commands_have_examples() -> None:
    for name in ("import", "convert", "attach-pdfs"):
        assert "Example: sieve " in (cli.commands[name].help or "")
