"""`sieve dedup PROJECT` and `sieve dedup-file IN --out groups.csv`."""

from __future__ import annotations

import csv
import json
from collections import defaultdict

from click.testing import CliRunner

from tests.conftest import shared_data
from tests.dedup.conftest import labelled_rows, record
from web.cli import cli


def test_sieve_dedup_prints_counts_and_json(db_url, session, team):
    title = "Social outcomes partnerships and the life chances fund: interim evaluation"
    for _ in range(3):
        record(session, team.project, title=title, authors=["Fox, Chris"], year=2022,
               journal="Evaluation", volume="28", pages="5-22")
    record(session, team.project, title="Something else entirely", year=2001)
    session.commit()
    runner = CliRunner()
    result = runner.invoke(cli, ["dedup", str(team.project.id), "--database-url", db_url])
    assert result.exit_code == 0, result.output
    assert "merged:   2 duplicates in 1 groups" in result.output
    assert "unique:   2" in result.output and "pending:  0" in result.output
    result = runner.invoke(cli, ["dedup", str(team.project.id), "--json",
                                 "--database-url", db_url])
    data = json.loads(result.output)
    assert (data["records"], data["duplicates"], data["merged"]) == (4, 2, 0)
    missing = runner.invoke(cli, ["dedup", "999", "--database-url", db_url])
    assert missing.exit_code != 0 and "no project 999" in missing.output


def check_groups_file(name, tmp_path):
    """Run dedup-file on a labelled set; return (rows, truth)."""
    rows = labelled_rows(name)
    truth = {row["record_id"]: row["true_group"] for row in rows}
    out = tmp_path / "groups.csv"
    result = CliRunner().invoke(cli, ["dedup-file", str(shared_data("dedup", f"{name}.csv")),
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    with out.open(newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == ["record_id", "group_id", "decision", "score"]
        written = list(reader)
    assert [r["record_id"] for r in written] == [row["record_id"] for row in rows]
    assert {r["decision"] for r in written} <= {"auto", "review", "unique"}
    return written, truth


def test_dedup_file_groups_a_labelled_csv(tmp_path):
    written, truth = check_groups_file("asysd_diabetes", tmp_path)
    groups = defaultdict(set)
    for row in written:
        if row["decision"] == "auto":
            groups[row["group_id"]].add(row["record_id"])
            assert float(row["score"]) > 0
        else:
            assert row["group_id"] == row["record_id"]
    # The group id is a member's own id, and no group mixes two true works.
    assert all(gid in members for gid, members in groups.items())
    assert all(len({truth[m] for m in members}) == 1 for members in groups.values())
    redundant = len(truth) - len(set(truth.values()))
    merged = sum(len(m) - 1 for m in groups.values())
    assert merged >= 0.99 * redundant


def test_dedup_file_sends_cochrane_versions_to_review(tmp_path):
    written, truth = check_groups_file("bibdedupe_tests_small", tmp_path)
    decision = {r["record_id"]: r["decision"] for r in written}
    versions = [rid for rid, group in truth.items() if group == "g00002"]
    assert len(versions) == 2 and {decision[v] for v in versions} == {"review"}
