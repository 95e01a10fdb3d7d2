"""Tests for explain_ser.stats: bootstrap coverage, permutation p-values, BH-FDR."""

import numpy as np
import pytest
from scipy.stats import false_discovery_control

from explain_ser import stats


def test_bh_matches_scipy_and_keeps_nan():
    rng = np.random.default_rng(3)
    p = rng.uniform(size=50) ** 2
    np.testing.assert_allclose(stats.benjamini_hochberg(p), false_discovery_control(p, method="bh"))
    q = stats.benjamini_hochberg([0.01, np.nan, 0.02])
    assert np.isnan(q[1]) and np.allclose(q[[0, 2]], [0.02, 0.02])
    assert np.isnan(stats.benjamini_hochberg([np.nan])).all()


def test_permutation_pvalue_bounds_and_sides():
    null = np.arange(100.0)[:, None]
    assert stats.permutation_pvalue(1000.0, null, "greater")[0] == pytest.approx(1 / 101)
    assert stats.permutation_pvalue(-5.0, null, "less")[0] == pytest.approx(1 / 101)
    assert stats.permutation_pvalue(49.5, null, "two-sided")[0] == pytest.approx(1.0)
    assert np.isnan(stats.permutation_pvalue(np.nan, null)[0])
    with pytest.raises(ValueError):
        stats.permutation_pvalue(1.0, null, "bigger")


def test_bootstrap_ci_covers_truth_at_nominal_rate():
    """95 % percentile CIs of a mean contain the true mean in >= 85 of 100 simulated data sets."""
    rng = np.random.default_rng(0)
    hits = 0
    for rep in range(100):
        x = rng.gamma(2.0, 1.0, size=60)  # skewed, true mean 2
        _, lo, hi = stats.bootstrap_ci(x, n_boot=500, seed=rep)
        hits += lo <= 2.0 <= hi
    assert hits >= 85


def test_cluster_bootstrap_covers_truth_with_speaker_effects():
    """With strong speaker effects only the speaker (cluster) bootstrap keeps its coverage."""
    rng = np.random.default_rng(1)
    hits_cluster = hits_clip = 0
    for rep in range(100):
        spk = np.repeat(np.arange(20), 10)
        x = 0.5 + rng.normal(0, 0.2, 20)[spk] + rng.normal(0, 0.05, 200)
        _, lo, hi = stats.bootstrap_ci(x, clusters=spk, n_boot=400, seed=rep)
        hits_cluster += lo <= 0.5 <= hi
        _, lo, hi = stats.bootstrap_ci(x, n_boot=400, seed=rep)
        hits_clip += lo <= 0.5 <= hi
    assert hits_cluster >= 85
    assert hits_clip < hits_cluster  # resampling clips ignores the dependence and under-covers


def test_bootstrap_ratio_is_pooled_and_seeded():
    num, den = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 1.0, 2.0, 4.0])
    est, lo, hi = stats.bootstrap_ratio_ci(num, den, clusters=["a", "a", "b", "c"], n_boot=300, seed=5)
    assert est == pytest.approx(10 / 8)
    again = stats.bootstrap_ratio_ci(num, den, clusters=["a", "a", "b", "c"], n_boot=300, seed=5)
    assert (lo, hi) == (again[1], again[2])
    est2, lo2, hi2 = stats.bootstrap_ratio_ci(np.stack([num, 2 * num], 1), den, n_boot=100)
    assert est2.shape == (2,) and est2[1] == pytest.approx(2 * est2[0])


def test_significance_marks():
    assert stats.significance_marks([0.2, 0.04, 0.009, 0.0001]).tolist() == ["", "*", "**", "***"]
