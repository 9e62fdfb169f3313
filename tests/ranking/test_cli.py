"""`sieve simulate` on a real labelled set, and the project commands."""

from __future__ import annotations

import csv
import json

import pytest
from click.testing import CliRunner

from review.models import StopEvent
from tests.conftest import shared_data
from tests.ranking.helpers import decide, setup_project
from web.cli import cli

# the keys issue #5 lists for metrics.json
ISSUE_KEYS = {"n_records", "n_included", "wss_95", "wss_100", "recall_at_10pct",
              "recall_at_25pct", "records_to_95", "atd_frac", "wall_s", "median_iteration_s"}


@pytest.fixture
def small_set():
    path = shared_data("screening", "clef2017_cd008760.csv")
    if not path.exists():
        pytest.skip(f"{path} is missing")
    return path


def _order(path):
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_simulate_writes_metrics_order_and_plot(small_set, tmp_path) -> None:
    out, order, plot = tmp_path / "m.json", tmp_path / "order.csv", tmp_path / "c.svg"
    result = CliRunner().invoke(cli, ["simulate", str(small_set), "--seed", "3", "--out",
                                      str(out), "--order", str(order), "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    metrics = json.loads(out.read_text())
    assert set(metrics) == ISSUE_KEYS
    with small_set.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert metrics["n_records"] == len(rows)
    assert metrics["n_included"] == sum(r["label_included"] == "1" for r in rows)
    got = _order(order)
    assert list(got[0]) == ["position", "record_id", "label_included", "is_prior"]
    assert sorted(r["record_id"] for r in got) == sorted(r["record_id"] for r in rows)
    assert [r["is_prior"] for r in got[:3]] == ["1", "1", "0"]
    assert plot.read_text().startswith("<svg")
    # WSS@95 follows from records_to_95 as the issue defines it
    n = metrics["n_records"]
    assert metrics["wss_95"] == pytest.approx((n - metrics["records_to_95"]) / n - 0.05,
                                              abs=1e-6)


def test_same_seed_same_order_and_prior_ids(small_set, tmp_path) -> None:
    runner = CliRunner()
    orders = []
    for name, seed in (("a", "5"), ("b", "5")):
        args = ["simulate", str(small_set), "--seed", seed, "--out", str(tmp_path / f"{name}.json"),
                "--order", str(tmp_path / f"{name}.csv")]
        assert runner.invoke(cli, args).exit_code == 0
        orders.append([r["record_id"] for r in _order(tmp_path / f"{name}.csv")])
    assert orders[0] == orders[1]
    priors = ",".join(orders[0][:2])
    args = ["simulate", str(small_set), "--seed", "9", "--prior-ids", priors, "--out",
            str(tmp_path / "p.json"), "--order", str(tmp_path / "p.csv")]
    assert runner.invoke(cli, args).exit_code == 0
    assert [r["record_id"] for r in _order(tmp_path / "p.csv")][:2] == orders[0][:2]


def test_simulate_errors_name_the_file_and_column(tmp_path) -> None:
    bad = tmp_path / "nolabel.csv"
    bad.write_text("title,abstract\nA,B\n")
    result = CliRunner().invoke(cli, ["simulate", str(bad), "--seed", "1", "--out",
                                      str(tmp_path / "m.json")])
    assert result.exit_code != 0
    assert str(bad) in result.output and "label_included" in result.output
    both = CliRunner().invoke(cli, ["simulate", str(bad), "--seed", "1", "--prior-ids", "1",
                                    "--prior-included", "2", "--out", str(tmp_path / "m.json")])
    assert both.exit_code != 0 and "either --prior-ids" in both.output
    good = tmp_path / "good.csv"
    good.write_text("title,abstract,label_included\nbond,x,1\nfish,y,0\nbond z,w,0\n")
    unknown = CliRunner().invoke(cli, ["simulate", str(good), "--seed", "1", "--model", "nope",
                                       "--out", str(tmp_path / "m.json")])
    assert unknown.exit_code != 0 and "available" in unknown.output


def test_rank_stopping_stop_and_undo_commands(db_url, session, monkeypatch) -> None:
    project, lead, reviewer, records = setup_project(session)
    for i, rec in enumerate(records[:10]):
        decide(session, rec, lead, "include" if i == 0 else "exclude")
    session.commit()
    monkeypatch.setenv("DATABASE_URL", db_url)
    runner = CliRunner()
    ranked = runner.invoke(cli, ["rank", str(project.id)])
    assert ranked.exit_code == 0, ranked.output
    assert "on 10 labels (1 included), 14 records ranked" in ranked.output
    report = runner.invoke(cli, ["stopping", str(project.id)])
    assert report.exit_code == 0 and "screened 10 of 14 records, 1 included" in report.output
    assert "hypergeometric" in report.output and "estimated recall" in report.output
    stop = runner.invoke(cli, ["stop", str(project.id), "--rule", "consecutive-irrelevant",
                               "--param", "n_consecutive=5", "--by", lead.email])
    assert stop.exit_code == 0 and "4 never-screened records" in stop.output, stop.output
    refused = runner.invoke(cli, ["stop", str(project.id), "--rule", "knee", "--force",
                                  "--by", reviewer.email])
    assert refused.exit_code != 0 and "role" in refused.output
    session.commit()
    event = session.query(StopEvent).one()
    undo = runner.invoke(cli, ["undo-stop", str(project.id), str(event.id), "--by", lead.email])
    assert undo.exit_code == 0 and "back in the queue" in undo.output
