"""Bootstrap intervals and paired comparisons: known cases, determinism, real differences vs noise."""

import numpy as np
import pytest

from clusterank.errors import ClusterankError
from clusterank.evaluate.stats import Estimate, bootstrap_ci, paired_difference, within_noise


def test_constant_values_collapse():
    est = bootstrap_ci([0.3] * 40)
    assert est.mean == pytest.approx(0.3) and est.low == est.mean == est.high
    assert bootstrap_ci([0.7]) == Estimate(0.7, 0.7, 0.7)


def test_half_ones_half_zeros():
    # 100 values: se = 0.5 / sqrt(100) = 0.05, 95% width ~ 2 * 1.96 * 0.05 = 0.196
    est = bootstrap_ci([0, 1] * 50)
    assert est.mean == pytest.approx(0.5)
    assert est.low < 0.5 < est.high
    assert est.high - est.low == pytest.approx(0.196, abs=0.025)
    # 50 values: se = 0.5 / sqrt(50) = 0.0707, width ~ 0.277
    est50 = bootstrap_ci([0, 1] * 25)
    assert est50.low < 0.5 < est50.high
    assert est50.high - est50.low == pytest.approx(0.277, abs=0.03)


def test_level_widens_the_interval():
    values = np.random.default_rng(1).random(60)
    narrow, wide = bootstrap_ci(values, level=0.5), bootstrap_ci(values, level=0.99)
    assert wide.low < narrow.low < narrow.high < wide.high


def test_deterministic_with_the_seed():
    values = np.random.default_rng(2).random(30)
    assert bootstrap_ci(values, seed=5) == bootstrap_ci(values, seed=5)
    assert bootstrap_ci(values, seed=5) != bootstrap_ci(values, seed=6)
    assert paired_difference(values, values[::-1], seed=3) == paired_difference(values, values[::-1], seed=3)


def test_many_queries_are_chunked_but_identical_in_shape():
    values = np.random.default_rng(3).random(50_000)
    est = bootstrap_ci(values, n_boot=200)
    assert est.low < est.mean < est.high and est.high - est.low < 0.01


def test_str():
    assert str(Estimate(0.6123, 0.58149, 0.64)) == "0.612 [0.581, 0.640]"


def test_paired_difference_detects_a_real_difference():
    b = np.random.default_rng(4).random(80)
    est, significant = paired_difference(b + 0.2, b)
    assert significant and est.mean == pytest.approx(0.2) and est.low > 0
    # with per-query noise on top, still clearly different
    a = b + 0.2 + np.random.default_rng(5).normal(0, 0.1, 80)
    est, significant = paired_difference(a, b)
    assert significant and 0.1 < est.low < est.mean < est.high < 0.3
    assert not within_noise(a, b)
    # and in the other direction
    est, significant = paired_difference(b, a)
    assert significant and est.high < 0


def test_paired_difference_does_not_flag_noise():
    rng = np.random.default_rng(0)
    a, b = rng.random(80), rng.random(80)
    est, significant = paired_difference(a, b)
    assert est.low < 0 < est.high and not significant
    assert within_noise(a, b) and within_noise(a, b, n_boot=500, seed=1)


def test_single_query_is_never_significant():
    est, significant = paired_difference([0.9], [0.1])
    assert est == Estimate(pytest.approx(0.8), pytest.approx(0.8), pytest.approx(0.8)) and not significant


def test_bad_inputs():
    with pytest.raises(ClusterankError, match="empty"):
        bootstrap_ci([])
    with pytest.raises(ClusterankError, match=r"missing or infinite value \(query 1\)"):
        bootstrap_ci([0.1, float("nan")])
    with pytest.raises(ClusterankError, match="same queries"):
        paired_difference([0.1, 0.2], [0.1])
    with pytest.raises(ClusterankError, match="level"):
        bootstrap_ci([0.1, 0.2], level=95)
    with pytest.raises(ClusterankError, match="n_boot"):
        bootstrap_ci([0.1, 0.2], n_boot=0)
