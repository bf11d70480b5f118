"""Acceptance estimators on hand-built tables, answers computed by hand."""

from __future__ import annotations

import numpy as np
import pytest
from record_builders import group, record, step

from specaudit.metrics import compute_metrics
from specaudit.metrics.acceptance import (
    acceptance_rate,
    distributional_alpha,
    draft_acceptance_rate,
    mean_accepted_length,
    position_acceptance,
)


def _metrics(records, **kwargs):
    kwargs.setdefault("min_prompts", 2)
    kwargs.setdefault("n_boot", 200)
    return compute_metrics(records, **kwargs)


def test_leviathan_estimate_counts_only_verified_drafts():
    # alpha = 0.5, gamma = 3: E[n] = 0.5 + 0.25 + 0.125, E[rejection] = 1 - 0.125
    accepted, rejections, drafted = 0.875, 0.875, 3.0
    assert acceptance_rate(accepted, rejections) == pytest.approx(0.5)
    # The serving engines' rate reads 0.29 (docs/method.md#acceptance).
    assert draft_acceptance_rate(accepted, drafted) == pytest.approx(0.2917, abs=1e-4)


def test_undefined_ratios_are_nan():
    assert np.isnan(acceptance_rate(0, 0))
    assert np.isnan(draft_acceptance_rate(0, 0))
    assert np.isnan(mean_accepted_length(0, 0))
    np.testing.assert_array_equal(position_acceptance([1, 0], [2, 0]), [0.5, np.nan])


def test_every_draft_accepted():
    result = _metrics(group([step(4, 4), step(4, 4), step(4, 4)], 12))
    g = result.group("en/t")
    assert g.status == "ok"
    assert g.acceptance_rate.estimate == 1.0
    assert (g.acceptance_rate.ci_low, g.acceptance_rate.ci_high) == (1.0, 1.0)
    assert g.draft_acceptance_rate.estimate == 1.0
    assert g.mean_accepted_length.estimate == 5.0
    assert [e.estimate for e in g.position_acceptance] == [1.0, 1.0, 1.0, 1.0]
    # c = 0.002 / 0.02 = 0.1; f_4(1) = 5.
    assert g.c.estimate == pytest.approx(0.1)
    assert g.analytic_speedup.estimate == pytest.approx(5 / 1.4)
    be = g.break_even_alpha.estimate
    assert be + be**2 + be**3 + be**4 == pytest.approx(0.4)
    assert g.break_even_margin.estimate == pytest.approx(1 - be)


def test_no_draft_accepted():
    result = _metrics(group([step(4, 0), step(4, 0)], 12))
    g = result.group("en/t")
    assert g.acceptance_rate.estimate == 0.0
    assert g.draft_acceptance_rate.estimate == 0.0
    assert g.mean_accepted_length.estimate == 1.0
    assert g.position_acceptance[0].estimate == 0.0
    # Positions 2..4 were never verified: undefined, not 0.
    for e in g.position_acceptance[1:]:
        assert e.estimate is None and e.status == "insufficient data"
    assert g.analytic_speedup.estimate == pytest.approx(1 / 1.4)
    assert g.break_even_margin.estimate < 0


def test_gamma_one():
    steps = [step(1, 1), step(1, 0), step(1, 1), step(1, 0)]
    g = _metrics(group(steps, 12)).group("en/t")
    assert g.acceptance_rate.estimate == pytest.approx(0.5)
    assert len(g.position_acceptance) == 1
    assert g.position_acceptance[0].estimate == pytest.approx(0.5)
    assert g.mean_accepted_length.estimate == pytest.approx(1.5)
    # f_1(alpha) = 1 + alpha; c = 0.1.
    assert g.analytic_speedup.estimate == pytest.approx(1.5 / 1.1)
    assert g.break_even_alpha.estimate == pytest.approx(0.1)


def test_short_drafts_and_empty_drafts():
    # gamma = 4, but the drafter proposes 2, 4, 3, 1 and 0 tokens.
    steps = [step(2, 1), step(4, 4), step(3, 1), step(1, 0), step(0, 0)]
    g = _metrics(group(steps, 3)).group("en/t")
    assert g.acceptance_rate.estimate == pytest.approx(6 / 9)
    assert g.draft_acceptance_rate.estimate == pytest.approx(6 / 10)
    # The empty step is a target forward that emits one token.
    assert g.mean_accepted_length.estimate == pytest.approx(11 / 5)
    assert [e.estimate for e in g.position_acceptance] == pytest.approx([3 / 4, 1 / 3, 1.0, 1.0])


def test_empty_draft_steps_do_not_touch_acceptance():
    with_empty = [step(4, 2), step(0, 0), step(0, 0)]
    without = [step(4, 2)]
    a = _metrics(group(with_empty, 3)).group("en/t")
    b = _metrics(group(without, 3)).group("en/t")
    assert a.acceptance_rate.estimate == b.acceptance_rate.estimate == pytest.approx(2 / 3)
    assert a.draft_acceptance_rate.estimate == b.draft_acceptance_rate.estimate
    assert a.mean_accepted_length.estimate == pytest.approx(5 / 3)
    assert b.mean_accepted_length.estimate == pytest.approx(3.0)


def test_distributional_alpha_token_pooled_and_prompt_averaged():
    records = [
        record([step(4, 4, alpha=0.9)], id="a"),  # 4 positions at 0.9
        record([step(4, 0, alpha=0.1)], id="b"),  # 1 position at 0.1
    ]
    g = _metrics(records).group("en/t")
    assert g.distributional_alpha_token.estimate == pytest.approx((4 * 0.9 + 0.1) / 5)
    assert g.distributional_alpha_prompt.estimate == pytest.approx((0.9 + 0.1) / 2)
    assert g.tv.estimate == pytest.approx(1 - (4 * 0.9 + 0.1) / 5)
    assert distributional_alpha(0, 0) != distributional_alpha(0, 0)  # NaN
