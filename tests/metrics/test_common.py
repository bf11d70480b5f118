"""The shared spreads: the MAD, and the fast-half spread the stall fences use."""

import numpy as np
import pytest

from specaudit.metrics._common import lower_spread, lower_tail_normal, robust_spread


def test_lower_spread_known_values():
    # Lower half of [0, 1, 2, 3, 4] below the median 2: distances 2, 1, 0 -> median 1.
    assert lower_spread([0, 1, 2, 3, 4]) == pytest.approx(1 / 0.6744897501960817)
    assert lower_spread([3.0, 3.0, np.nan]) == 0.0
    assert np.isnan(lower_spread([np.nan]))


def test_lower_spread_estimates_sigma_of_normal_values():
    x = np.random.default_rng(0).normal(5.0, 0.04, 20_000)
    assert lower_spread(x) == pytest.approx(0.04, rel=0.03)
    assert robust_spread(x) == pytest.approx(0.04, rel=0.03)


def test_one_sided_slow_downs_widen_the_mad_but_hardly_the_lower_spread():
    rng = np.random.default_rng(1)
    x = rng.normal(0.0, 0.04, 20_000)
    slowed = rng.random(len(x)) < 0.3
    x[slowed] += rng.uniform(np.log(1.1), np.log(1.7), slowed.sum())
    # The MAD grows by over 60%; the fast half's spread by under 45%.
    assert robust_spread(x) > 1.6 * 0.04
    assert lower_spread(x) < 1.45 * 0.04
    assert lower_spread(x) < 0.8 * robust_spread(x)


def test_lower_tail_normal_recovers_a_normal():
    x = np.random.default_rng(2).normal(0.3, 0.05, 20_000)
    mu, sigma = lower_tail_normal(x)
    assert mu == pytest.approx(0.3, abs=0.003)
    assert sigma == pytest.approx(0.05, rel=0.04)
    assert lower_tail_normal([np.nan]) != lower_tail_normal([np.nan])  # (nan, nan)
    assert lower_tail_normal([1.0] * 5) == (1.0, 0.0)


def test_lower_tail_holds_where_the_fast_half_gives_way():
    # 40% of decodes slowed 1.3-2x, as beside a neighbour that takes every core
    # a quarter of the time: the fast half about the median inflates sigma by
    # about 75% and moves the centre by about one sigma; the lower tail by a
    # fifth and 0.6 sigma (see lower_tail_normal).
    rng = np.random.default_rng(3)
    x = rng.normal(0.0, 0.05, 20_000)
    slowed = rng.random(len(x)) < 0.4
    x[slowed] += rng.uniform(np.log(1.3), np.log(2.0), slowed.sum())
    mu, sigma = lower_tail_normal(x)
    assert 1.1 * 0.05 < sigma < 1.3 * 0.05
    assert 0.45 * 0.05 < mu < 0.75 * 0.05
    assert lower_spread(x) > 1.6 * 0.05
    assert np.median(x) > 0.9 * 0.05
