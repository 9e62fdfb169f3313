import csv
import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from screening.ranking import (
    METRIC_KEYS,
    order_metrics,
    read_labelled_csv,
    records_to_recall,
    simulate,
    write_metrics_json,
    write_order_csv,
    write_recall_svg,
    wss,
)
from screening.ranking.metrics import atd_fraction, recall_at

ORDER = [1, 0, 1, 0, 0, 0, 0, 0, 0, 0]


def test_metrics_on_a_hand_made_order():
    m = order_metrics(ORDER, wall_s=1.5, median_iteration_s=0.01)
    assert list(m) == list(METRIC_KEYS)
    assert m["n_records"] == 10 and m["n_included"] == 2
    # 95% of 2 includes needs both: found at position 3
    assert m["records_to_95"] == 3
    assert m["wss_95"] == pytest.approx(7 / 10 - 0.05)
    assert m["wss_100"] == pytest.approx(0.7)
    assert m["recall_at_10pct"] == pytest.approx(0.5)
    assert m["recall_at_25pct"] == pytest.approx(0.5)
    assert m["atd_frac"] == pytest.approx((1 + 3) / 2 / 10)
    assert m["wall_s"] == 1.5


def test_records_to_recall_rounds_the_needed_includes_up():
    y = np.zeros(100, int)
    y[[0, 9, 19, 29, 39, 49, 59, 69, 79, 89, 91, 92, 93, 94, 95, 96, 97, 98, 99, 50]] = 1
    order = np.flatnonzero(y)
    # 20 includes: 95% needs 19 of them
    assert records_to_recall(y, 0.95) == order[18] + 1
    assert records_to_recall(y, 1.0) == 100
    assert wss(y, 1.0) == 0.0


def test_random_order_saves_no_work_on_average():
    rng = np.random.default_rng(0)
    y = (np.arange(2000) < 100).astype(int)
    vals = [wss(rng.permutation(y), 0.95) for _ in range(50)]
    assert abs(np.mean(vals)) < 0.02
    assert recall_at(y, 0.1) == 1.0
    assert atd_fraction(y) == pytest.approx(50.5 / 2000)


def test_metrics_need_an_include():
    with pytest.raises(ValueError, match="no included"):
        order_metrics([0, 0, 0])


def _toy_set(n=120, seed=0):
    rng = np.random.default_rng(seed)
    words_in = ["bond", "impact", "outcome", "payment", "results", "contract"]
    words_out = ["protein", "cell", "surgery", "coral", "reef", "yeast", "heart"]
    texts, labels = [], []
    for i in range(n):
        rel = i % 10 == 0
        pool = words_in if rel else words_out
        texts.append(" ".join(rng.choice(pool, 8)) + " " + " ".join(rng.choice(words_out, 4)))
        labels.append(int(rel))
    return texts, np.array(labels)


def test_simulation_order_is_a_full_permutation_with_priors_first():
    texts, labels = _toy_set()
    ids = [f"r{i}" for i in range(len(texts))]
    res = simulate(texts, labels, seed=3, record_ids=ids, prior_ids=["r10", "r11"])
    o = res.order
    assert sorted(o.record_ids) == sorted(ids)
    assert o.record_ids[:2] == ["r10", "r11"]
    assert o.is_prior.tolist() == [True, True] + [False] * (len(ids) - 2)
    assert list(o.positions) == list(range(1, len(ids) + 1))
    assert o.labels.tolist() == [labels[int(r[1:])] for r in o.record_ids]
    assert list(res.metrics) == list(METRIC_KEYS)
    # the separable toy set: every include is found right after the priors
    assert res.metrics["records_to_95"] <= 2 + labels.sum()


def test_simulation_is_reproducible_and_draws_priors_by_seed():
    texts, labels = _toy_set()
    a = simulate(texts, labels, seed=5, n_prior_included=2, n_prior_excluded=3)
    b = simulate(texts, labels, seed=5, n_prior_included=2, n_prior_excluded=3)
    assert a.order.record_ids == b.order.record_ids
    assert a.order.labels[:5].tolist() == [1, 1, 0, 0, 0]


def test_simulation_rejects_unknown_prior_ids():
    texts, labels = _toy_set()
    with pytest.raises(ValueError, match="prior ids not found"):
        simulate(texts, labels, seed=1, prior_ids=["nope"])


def test_report_files(tmp_path):
    texts, labels = _toy_set()
    res = simulate(texts, labels, seed=1)
    write_metrics_json(tmp_path / "m.json", res)
    assert list(json.loads((tmp_path / "m.json").read_text())) == list(METRIC_KEYS)
    write_order_csv(tmp_path / "o.csv", res)
    with (tmp_path / "o.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["position", "record_id", "label_included", "is_prior"]
    assert len(rows) == len(texts)
    assert [r["is_prior"] for r in rows[:3]] == ["1", "1", "0"]
    write_recall_svg(tmp_path / "c.svg", res, title="toy <set>")
    root = ET.parse(tmp_path / "c.svg").getroot()
    assert root.tag.endswith("svg")
    assert any(el.tag.endswith("polyline") for el in root.iter())


def test_read_labelled_csv_names_file_and_line(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("title,abstract,label_included\nA,aa,1\nB,,0\n")
    data = read_labelled_csv(good)
    assert data.record_ids == ["0", "1"] and data.labels.tolist() == [1, 0]
    bad = tmp_path / "bad.csv"
    bad.write_text("title,abstract,label_included\nA,aa,1\nB,,yes\n")
    with pytest.raises(ValueError, match=r"bad.csv, line 3"):
        read_labelled_csv(bad)
    with pytest.raises(ValueError, match="missing column"):
        (tmp_path / "c.csv").write_text("title,label_included\nA,1\n")
        read_labelled_csv(tmp_path / "c.csv")


def test_batched_simulation_retrains_less_and_still_screens_everything():
    texts, labels = _toy_set(n=300)
    ids = list(range(len(texts)))
    every = simulate(texts, labels, seed=2, prior_ids=[10, 11], stop_when_all_found=False)
    batched = simulate(
        texts, labels, seed=2, prior_ids=[10, 11], stop_when_all_found=False, batch_divisor=10
    )
    assert sorted(batched.order.record_ids) == ids
    assert batched.order.record_ids[:2] == [10, 11]
    assert len(every.iteration_s) == len(texts) - 2
    # retrain after every n_labelled // 10 labels: far fewer fits than labels
    assert len(batched.iteration_s) < len(texts) // 4
    # a divisor so large that every step is one label is the unbatched simulation
    same = simulate(
        texts, labels, seed=2, prior_ids=[10, 11], stop_when_all_found=False, batch_divisor=10**9
    )
    assert same.order.record_ids == every.order.record_ids
