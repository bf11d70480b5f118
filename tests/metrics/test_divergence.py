"""Divergences and the Theorem 1 bounds."""

from __future__ import annotations

import numpy as np
import pytest
from record_builders import group, step

from specaudit.metrics import compute_metrics
from specaudit.metrics.divergence import bound_ce, bound_kl, bound_tv
from specaudit.metrics.speedup import expected_tokens_per_step


def test_bounds_by_hand_and_clipping():
    gamma, c = 4, 0.1
    assert bound_tv(0.3, gamma, c) == pytest.approx(expected_tokens_per_step(0.7, 4) / 1.4)
    assert bound_kl(0.18, gamma, c) == pytest.approx(expected_tokens_per_step(0.7, 4) / 1.4)
    # sqrt(D / 2) > 1: the argument of f is clipped at 0, f(0) = 1.
    assert bound_ce(3.0, gamma, c) == pytest.approx(1 / 1.4)
    assert bound_kl(8.0, gamma, c) == pytest.approx(1 / 1.4)


def test_bounds_are_ordered_when_pinsker_holds():
    tv = np.array([0.1, 0.3, 0.6])
    kl = 2 * tv**2 * 1.5  # KL >= 2 TV^2
    ce = kl + 0.8  # D = H(p) + KL
    b_tv, b_kl, b_ce = bound_tv(tv, 3, 0.05), bound_kl(kl, 3, 0.05), bound_ce(ce, 3, 0.05)
    assert np.all(b_tv >= b_kl) and np.all(b_kl >= b_ce)


def test_group_divergences_are_token_pooled():
    records = group([step(4, 4, ce=1.0, kl=0.1), step(4, 0, ce=3.0, kl=0.5)], 4)
    g = compute_metrics(records, min_prompts=2, n_boot=200).group("en/t")
    # 4 positions from the first step, 1 from the second, per prompt.
    assert g.cross_entropy.estimate == pytest.approx((4 * 1.0 + 3.0) / 5)
    assert g.kl.estimate == pytest.approx((4 * 0.1 + 0.5) / 5)
    assert g.bound_ce.estimate == pytest.approx(
        expected_tokens_per_step(max(0.0, 1 - np.sqrt(1.4 / 2)), 4) / 1.4
    )
