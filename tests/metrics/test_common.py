"""The shared helpers: the MAD, the fast-half spread the step fences use, the finite median."""

import numpy as np
import pytest

from specaudit.metrics._common import finite_median, lower_spread, robust_spread


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


def test_finite_median_skips_unmeasured_values():
    assert finite_median([3.0, np.nan, 1.0, 2.0, np.inf]) == 2.0
    assert np.isnan(finite_median([np.nan]))
    assert finite_median([], empty=0.0) == 0.0
