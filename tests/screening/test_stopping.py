import numpy as np
import pytest
from scipy.stats import hypergeom

from screening.stopping import consecutive_irrelevant_stop, hypergeometric_stop, knee_stop


def test_hypergeometric_stops_after_a_long_empty_tail():
    y = np.r_[np.ones(40, int), np.zeros(1500, int)]
    d = hypergeometric_stop(y, 2000, recall_target=0.95, confidence=0.95)
    assert d.should_stop
    assert d.rule == "hypergeometric"
    assert d.params["recall_target"] == 0.95
    assert d.evidence["p_value"] < 0.05
    assert d.estimated_recall == 1.0
    low, high = d.recall_interval
    assert low < 1.0 <= high


def test_hypergeometric_does_not_stop_early():
    y = np.r_[np.ones(40, int), np.zeros(60, int)]
    d = hypergeometric_stop(y, 2000)
    assert not d.should_stop
    assert d.evidence["p_value"] > 0.05


def test_hypergeometric_p_value_matches_the_formula_for_a_random_sample():
    # 500 ranked, 30 relevant; then a random sample of 400 from the 1500 left, 2 relevant
    y = np.r_[np.ones(30, int), np.zeros(470, int), np.zeros(398, int), np.ones(2, int)]
    d = hypergeometric_stop(y, 2000, recall_target=0.9, sample_start=500)
    k_tar = int(np.floor(32 / 0.9 - 30)) + 1
    assert d.evidence["k_tar"] == k_tar
    assert d.evidence["p_value"] == pytest.approx(hypergeom.cdf(2, 1500, k_tar, 400))


def test_hypergeometric_keeps_its_recall_promise_on_random_samples():
    # the paper's design: screen a ranked part, then sample the rest at random until the rule
    # stops; recall must reach the target in at least 95% of runs
    rng = np.random.default_rng(0)
    misses, saved = 0, 0.0
    runs = 200
    for _ in range(runs):
        rest = rng.permutation(np.r_[np.ones(12, int), np.zeros(1188, int)])
        y = np.r_[np.ones(100, int), np.zeros(200, int), rest]
        start, stop = 300, len(y)
        for s in range(start + 20, len(y) + 1, 20):
            if hypergeometric_stop(y[:s], len(y), sample_start=start).should_stop:
                stop = s
                break
        recall = y[:stop].sum() / y.sum()
        misses += recall < 0.95
        saved += 1 - stop / len(y)
    # 5% allowed, plus Monte Carlo noise of 200 runs
    assert misses / runs <= 0.08
    assert saved / runs > 0.05


def test_hypergeometric_needs_a_relevant_record():
    assert not hypergeometric_stop([0, 0, 0], 10).should_stop
    with pytest.raises(ValueError):
        hypergeometric_stop([0, 1], 1)


def test_consecutive_irrelevant():
    y = [1] + [0] * 49
    assert not consecutive_irrelevant_stop(y, 500, n_consecutive=50).should_stop
    d = consecutive_irrelevant_stop(y + [0], 500, n_consecutive=50)
    assert d.should_stop and d.evidence["current_run"] == 50
    assert d.params == {"n_consecutive": 50}
    # default: 5% of the set, at least 50
    assert consecutive_irrelevant_stop([1], 10_000).params["n_consecutive"] == 500


def test_knee_stops_on_a_sharp_knee_only():
    sharp = np.r_[np.ones(30, int), np.zeros(2000, int)]
    d = knee_stop(sharp, 5000)
    assert d.should_stop and d.evidence["knee"] == 30
    rng = np.random.default_rng(1)
    straight = (rng.random(2000) < 0.1).astype(int)
    assert not knee_stop(straight, 5000).should_stop
    assert not knee_stop(sharp[:100], 5000).should_stop  # fewer than 150 screened
