"""Stalled steps inside a decode: known-value tests and the effect on the headline."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from specaudit.metrics.costmodel import fit_cost_models
from specaudit.metrics.step_stalls import (
    STEP_FENCE,
    spec_step_costs,
    stall_excess,
    step_fence,
    trim_step_stalls,
)
from specaudit.metrics.synthetic_timing import SIMULATED_GROUPS, timed_records
from specaudit.metrics.timing import timing_assessment


def test_a_stalled_step_is_trimmed_to_the_decode_typical_speed():
    excess = stall_excess([1.0, 1.0, 1.0, 1.0, 5.0], np.ones(5))
    np.testing.assert_allclose(excess, [0, 0, 0, 0, 4.0])


def test_steps_under_the_fence_are_kept():
    excess = stall_excess([1.0, 1.0, 1.0, 1.4, 1.45], np.ones(5))
    np.testing.assert_array_equal(excess, np.zeros(5))


def test_typical_speed_is_relative_to_each_step_price():
    # A decode twice as slow as the model everywhere, with prices that vary
    # by step, has no stall; one step at 8x its price is stalled by 6x price.
    price = np.array([1.0, 2.0, 3.0, 1.0, 2.0])
    measured = 2.0 * price
    np.testing.assert_array_equal(stall_excess(measured, price), np.zeros(5))
    measured[2] = 8.0 * price[2]
    np.testing.assert_allclose(stall_excess(measured, price), [0, 0, 18.0, 0, 0])


def test_spec_step_price_is_draft_plus_verify():
    model = fit_cost_models(timed_records(SIMULATED_GROUPS[:1], seed=1))["simulated device"]
    k = np.array([0, 2, 4])
    expected = (
        model.draft_fixed_s
        + model.draft_per_token_s * k
        + model.verify_fixed_s
        + model.verify_per_token_s * (k + 1)
    )
    np.testing.assert_allclose(spec_step_costs(model, k), expected)


def test_fence_is_the_floor_on_quiet_steps_and_widens_with_their_spread():
    rng = np.random.default_rng(0)
    quiet = [rng.normal(0, 0.02, 200) for _ in range(50)]
    assert step_fence(quiet) == STEP_FENCE
    jittery = [rng.normal(0, 0.2, 200) for _ in range(50)]
    # z for 5% over 10 000 steps is about 4.4: exp(4.4 * 0.2) is about 2.4.
    assert 2.2 < step_fence(jittery) < 2.6


def test_trim_on_a_clean_run_removes_almost_nothing():
    records = timed_records(SIMULATED_GROUPS, forward_sd=0.05, seed=3)
    trim = trim_step_stalls(records, fit_cost_models(records))
    plain = [r["baseline_time_s"] for r in records]
    spec = [r["spec_time_s"] for r in records]
    # log-normal(0, 0.05) steps are past 1.5x with probability about 1e-16.
    assert trim.n_steps_trimmed == 0
    assert trim.share(plain, spec) == 0.0


def test_a_step_stall_is_trimmed_exactly_and_the_headline_recovers():
    records = timed_records(SIMULATED_GROUPS, forward_sd=0.05, seed=4)
    clean = timing_assessment(records)
    stalled = copy.deepcopy(records)
    r = stalled[7]
    extra = 3.0 * r["baseline_time_s"]  # one plain step waits 3 decodes' worth
    r["plain_step_times_s"][5] += extra
    r["timing_attempts"][0]["plain_step_times_s"][5] += extra
    r["baseline_time_s"] += extra
    r["timing_attempts"][0]["plain_time_s"] += extra
    assessed = timing_assessment(stalled)
    assert assessed.trim.n_steps_trimmed == 1
    # The excess trimmed is the stall plus the step's own distance from typical.
    assert assessed.trim.plain_excess_s[7] == pytest.approx(extra, rel=0.01)
    # Trimmed, the decode is no outlier: its robust time is its own, near the clean one.
    assert not assessed.flags.plain[7]
    assert assessed.plain_robust_s[7] == pytest.approx(clean.plain_robust_s[7], rel=0.01)
    health = assessed.health(stalled, groups=[x["language"] for x in stalled], modelled_gap=None)
    assert health.n_steps_trimmed == 1
    assert health.trimmed_share == pytest.approx(extra / _total(stalled), rel=0.01)
    assert "1 stalled steps trimmed" in health.summary()


def test_records_without_timing_attempts_keep_their_measured_times():
    # Version-1 records are never judged: a stall in one stays as measured.
    records = timed_records(SIMULATED_GROUPS, forward_sd=0.05, seed=4)
    r = records[7]
    extra = 3.0 * r["baseline_time_s"]
    r["plain_step_times_s"][5] += extra
    r["baseline_time_s"] += extra
    r["timing_attempts"] = []
    assessed = timing_assessment(records)
    assert assessed.trim.plain_excess_s[7] == 0.0
    assert assessed.plain_robust_s[7] == r["baseline_time_s"]


def _total(records):
    return sum(r["baseline_time_s"] + r["spec_time_s"] for r in records)
