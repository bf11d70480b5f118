"""Speed-up estimators: measured, analytic, break-even, tokenisation."""

from __future__ import annotations

import numpy as np
import pytest
from record_builders import record, step

from specaudit.metrics import compute_metrics
from specaudit.metrics.speedup import (
    analytic_speedup,
    break_even_alpha,
    expected_tokens_per_step,
    forward_cost_ratio,
    measured_speedup,
    share_slower,
    speedup_quantiles,
)


def test_expected_tokens_per_step():
    assert expected_tokens_per_step(0.5, 3) == pytest.approx((1 - 0.5**4) / 0.5)
    assert expected_tokens_per_step(1.0, 3) == 4.0  # gamma + 1 at alpha = 1
    assert expected_tokens_per_step(0.0, 3) == 1.0
    np.testing.assert_allclose(expected_tokens_per_step([0.2, 0.7], 1), [1.2, 1.7])


def test_analytic_speedup():
    assert analytic_speedup(0.8, 4, 0.05) == pytest.approx((1 - 0.8**5) / 0.2 / 1.2)
    assert analytic_speedup(1.0, 2, 0.0) == 3.0


def test_break_even_alpha():
    assert break_even_alpha(1, 0.3) == pytest.approx(0.3)  # f_1 = 1 + alpha
    # gamma = 2: alpha + alpha^2 = 2c.
    c = 0.2
    assert break_even_alpha(2, c) == pytest.approx((-1 + np.sqrt(1 + 8 * c)) / 2)
    assert break_even_alpha(4, 0.0) == 0.0
    assert break_even_alpha(4, 1.0) == 1.0  # capped: no alpha <= 1 breaks even
    assert break_even_alpha(4, 1.7) == 1.0
    got = break_even_alpha(3, np.array([0.0, 0.1, 0.5, 2.0]))
    assert got[0] == 0.0 and got[3] == 1.0
    for value, ci in zip(got[1:3], [0.1, 0.5], strict=True):
        assert analytic_speedup(value, 3, ci) == pytest.approx(1.0)


def test_forward_cost_ratio_without_drafter_forwards_is_zero():
    assert forward_cost_ratio(0.0, 0, 0.04, 2) == 0.0
    assert forward_cost_ratio(0.006, 2, 0.04, 2) == pytest.approx(0.15)


def test_ratio_of_sums_and_per_prompt_distribution():
    base, spec = np.array([2.0, 3.0, 1.0]), np.array([1.0, 1.0, 2.0])
    assert measured_speedup(base.sum(), spec.sum()) == pytest.approx(1.5)
    ratios = base / spec  # 2, 3, 0.5
    assert share_slower(ratios) == pytest.approx(1 / 3)
    np.testing.assert_allclose(speedup_quantiles(ratios, [0.25, 0.5, 0.75]), [1.25, 2.0, 2.5])


def test_group_speedup_figures_by_hand():
    steps = [step(4, 2)]
    records = [
        record(steps, id="a", baseline_time_s=2.0, spec_time_s=1.0, output_chars=30),
        record(steps, id="b", baseline_time_s=3.0, spec_time_s=1.0, output_chars=30),
        record(
            steps,
            id="c",
            baseline_time_s=1.0,
            spec_time_s=2.0,
            output_chars=60,
            draft_forward_s=0.004,
        ),
    ]
    g = compute_metrics(records, min_prompts=2, n_boot=200).group("en/t")
    assert g.speedup.estimate == pytest.approx(6 / 4)
    assert g.speedup_median.estimate == pytest.approx(2.0)
    assert g.speedup_q1.estimate == pytest.approx(1.25)
    assert g.speedup_q3.estimate == pytest.approx(2.5)
    assert g.share_slower.estimate == pytest.approx(1 / 3)
    # c = mean(0.002, 0.002, 0.004) / mean(0.02) = 0.1333...
    c = (0.008 / 3) / 0.02
    assert g.c.estimate == pytest.approx(c)
    alpha = 2 / 3
    assert g.analytic_speedup.estimate == pytest.approx(
        expected_tokens_per_step(alpha, 4) / (1 + 4 * c)
    )
    # Every prompt has the same alpha, so both analytic versions agree here.
    assert g.analytic_speedup_prompt_avg.estimate == pytest.approx(g.analytic_speedup.estimate)
    # 3 emitted tokens per prompt, 120 characters in all.
    assert g.tokens_per_char.estimate == pytest.approx(9 / 120)
    assert g.chars_per_s_plain.estimate == pytest.approx(120 / 6)
    assert g.chars_per_s_spec.estimate == pytest.approx(120 / 4)


def test_prompt_average_analytic_speedup_by_hand():
    # Equal numbers of verified drafts per prompt, so the pooled alpha is the mean
    # alpha (1/3) and, f being convex, the prompt average is the larger.
    records = [record([step(4, 2)], id="a"), record([step(4, 0)] * 3, id="b")]
    g = compute_metrics(records, min_prompts=2, n_boot=200).group("en/t")
    pooled = expected_tokens_per_step(1 / 3, 4) / 1.4
    averaged = (expected_tokens_per_step(2 / 3, 4) + expected_tokens_per_step(0.0, 4)) / 2 / 1.4
    assert g.analytic_speedup.estimate == pytest.approx(pooled)
    assert g.analytic_speedup_prompt_avg.estimate == pytest.approx(averaged)
    assert averaged > pooled


def test_drafter_that_never_runs_costs_nothing():
    records = [record([step(0, 0)] * 3, id=str(i)) for i in range(3)]
    g = compute_metrics(records, min_prompts=2, n_boot=200, gamma=4).group("en/t")
    assert g.c.estimate == 0.0
    assert g.break_even_alpha.estimate == 0.0
    assert g.acceptance_rate.estimate is None
    assert g.acceptance_rate.status == "insufficient data"
    assert g.mean_accepted_length.estimate == 1.0
