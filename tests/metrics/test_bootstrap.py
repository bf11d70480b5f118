"""The scipy.stats.bootstrap wrappers: expansion, fallbacks, p-values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from specaudit.metrics.bootstrap import (
    bootstrap_intervals,
    bootstrap_p_values,
    expanded_level,
    jackknife_acceleration,
    reinterval,
)

X = np.random.default_rng(0).lognormal(0.0, 0.5, size=(25, 2))


def ratio_and_mean(rows, axis=-1):
    rows = np.moveaxis(np.asarray(rows), axis, -1)
    sums = X[rows].sum(axis=-2)
    return np.stack([sums[..., 0] / sums[..., 1], sums[..., 0] / rows.shape[-1]])


def test_expanded_level():
    assert expanded_level(0.95, None) == 0.95
    assert expanded_level(0.95, 20) == pytest.approx(0.9682, abs=1e-4)
    assert expanded_level(0.95, 10_000) == pytest.approx(0.95, abs=1e-3)
    with pytest.raises(ValueError, match="n_units=1"):
        expanded_level(0.95, 1)


def test_percentile_interval_is_scipys():
    rows = (np.arange(25),)
    iv = bootstrap_intervals(
        rows, ratio_and_mean, n_boot=500, rng=np.random.default_rng(1), confidence_level=0.9
    )
    ref = stats.bootstrap(
        rows,
        ratio_and_mean,
        n_resamples=500,
        vectorized=True,
        axis=-1,
        confidence_level=0.9,
        method="percentile",
        rng=np.random.default_rng(1),
    )
    np.testing.assert_allclose(iv.low, ref.confidence_interval.low)
    np.testing.assert_allclose(iv.high, ref.confidence_interval.high)
    assert iv.method == ("percentile", "percentile")


def test_bca_and_its_acceleration_match_scipy():
    rows = (np.arange(25),)
    iv = bootstrap_intervals(
        rows,
        ratio_and_mean,
        n_boot=500,
        rng=np.random.default_rng(1),
        confidence_level=0.9,
        bca=[True, True],
    )
    ref = stats.bootstrap(
        rows,
        ratio_and_mean,
        n_resamples=500,
        vectorized=True,
        axis=-1,
        confidence_level=0.9,
        method="BCa",
        rng=np.random.default_rng(1),
    )
    np.testing.assert_allclose(iv.low, ref.confidence_interval.low)
    assert iv.method == ("BCa", "BCa")
    from scipy.stats._resampling import _bca_interval  # private: test-only cross-check

    a_scipy = _bca_interval(rows, ratio_and_mean, -1, 0.05, ref.bootstrap_distribution, None, np)[2]
    np.testing.assert_allclose(jackknife_acceleration(rows, ratio_and_mean), a_scipy)


@pytest.mark.parametrize("bca", [False, True])
@pytest.mark.parametrize("n_units", [None, 25])
def test_p_values_invert_the_interval(bca, n_units):
    iv = bootstrap_intervals(
        (np.arange(25),),
        ratio_and_mean,
        n_boot=2000,
        rng=np.random.default_rng(2),
        confidence_level=0.95,
        bca=[bca, bca],
        n_units=n_units,
    )
    for level in (0.8, 0.95, 0.99):
        low, high = reinterval(iv, level)
        for j in range(2):
            for null in np.linspace(low[j] - 0.05, high[j] + 0.05, 41):
                p = bootstrap_p_values(iv, [null, null])[j]
                inside = low[j] <= null <= high[j]
                if abs(p - (1 - level)) > 1e-6:  # away from the boundary itself
                    assert (p >= 1 - level) == inside, (level, j, null, p, low[j], high[j])


def test_p_value_floor_and_constant_distribution():
    iv = bootstrap_intervals(
        (np.arange(25),),
        ratio_and_mean,
        n_boot=999,
        rng=np.random.default_rng(3),
        confidence_level=0.95,
    )
    assert bootstrap_p_values(iv, [100.0, 100.0]).tolist() == [2 / 1000, 2 / 1000]

    def constant(rows, axis=-1):
        return np.ones((1, *np.shape(rows)[:-1]))

    iv = bootstrap_intervals(
        (np.arange(5),),
        constant,
        n_boot=100,
        rng=np.random.default_rng(0),
        confidence_level=0.95,
        bca=[True],
    )
    assert (iv.low[0], iv.high[0]) == (1.0, 1.0)
    assert not iv.fallback[0]  # constant: not reported as a fallback
    assert bootstrap_p_values(iv, [1.0])[0] == 1.0


def test_partly_undefined_replicates_use_the_defined_ones():
    def rare(rows, axis=-1):
        # Undefined in resamples that draw row 0 five times or more (0.4% at n = 30).
        hits = (np.asarray(rows) == 0).sum(axis=-1)
        return np.where(hits >= 5, np.nan, hits + 0.5)[None]

    iv = bootstrap_intervals(
        (np.arange(30),), rare, n_boot=1000, rng=np.random.default_rng(0), confidence_level=0.95
    )
    share_undefined = np.isnan(iv.bootstrap_distribution).mean()
    assert 0 < share_undefined < 0.025
    assert iv.conditional[0] and iv.method == ("percentile",)
    assert iv.low[0] == 0.5 and 2.5 <= iv.high[0] <= 4.5


def test_mostly_undefined_replicates_give_no_interval():
    def often(rows, axis=-1):
        hits = (np.asarray(rows) == 0).sum(axis=-1)
        return np.where(hits == 0, np.nan, hits + 0.5)[None]  # undefined ~36% of the time

    iv = bootstrap_intervals(
        (np.arange(30),), often, n_boot=500, rng=np.random.default_rng(0), confidence_level=0.95
    )
    assert iv.method == ("none",) and np.isnan(iv.low[0])
    assert np.isnan(bootstrap_p_values(iv, [1.0])[0])
