"""α, cross-entropy and KL per position, against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from specaudit.audit.divergence import LOG_Q_FLOOR, position_divergences
from specaudit.metrics.divergence import floor_dominated

LN2 = math.log(2.0)
# p = (1/2, 1/4, 1/4): H(p) = (1/2) ln 2 + (1/2) ln 4 = 1.5 ln 2.
P = torch.tensor([0.5, 0.25, 0.25])
H_P = 1.5 * LN2


def _logits(probs: torch.Tensor) -> torch.Tensor:
    return torch.log(probs).unsqueeze(0)  # log 0 = -inf: a token the drafter cannot propose


def test_overlapping_distributions():
    q = torch.tensor([0.25, 0.25, 0.5])
    alpha, ce, kl = position_divergences(_logits(P), _logits(q))
    # α = Σ min(p, q) = 1/4 + 1/4 + 1/4.
    assert alpha.item() == pytest.approx(0.75)
    # CE = -(1/2 ln 1/4 + 1/4 ln 1/4 + 1/4 ln 1/2) = (1 + 1/2 + 1/4) ln 2.
    assert ce.item() == pytest.approx(1.75 * LN2, rel=1e-6)
    # KL = 1/2 ln 2 + 1/4 ln 1 + 1/4 ln 1/2 = 1/4 ln 2 = CE - H(p).
    assert kl.item() == pytest.approx(0.25 * LN2, rel=1e-5)
    assert ce.item() - kl.item() == pytest.approx(H_P, rel=1e-6)


def test_identical_distributions_accept_everything():
    alpha, ce, kl = position_divergences(_logits(P), _logits(P))
    assert alpha.item() == pytest.approx(1.0)
    assert ce.item() == pytest.approx(H_P, rel=1e-6)
    assert kl.item() == pytest.approx(0.0, abs=1e-6)


def test_zeros_in_q_are_charged_at_the_floor():
    q = torch.tensor([1.0, 0.0, 0.0])  # an n-gram that has seen one continuation
    alpha, ce, kl = position_divergences(_logits(P), _logits(q))
    assert alpha.item() == pytest.approx(0.5)
    # CE = -(1/2 ln 1 + 1/2 * LOG_Q_FLOOR): half of p's mass at the floor.
    assert ce.item() == pytest.approx(-0.5 * LOG_Q_FLOOR, rel=1e-6)
    assert kl.item() == pytest.approx(-0.5 * LOG_Q_FLOOR - H_P, rel=1e-5)
    # 20.9 nats of KL per unit of TV: the rule marks it floor-dominated,
    # and the overlapping pair above (0.69 per unit) not.
    assert floor_dominated(kl.item(), alpha.item(), 1)
    assert not floor_dominated(0.25 * LN2, 0.75, 1)


def test_temperature_divides_both_logits():
    # Logits 2 ln p at temperature 2 are p again.
    q = torch.tensor([0.25, 0.25, 0.5])
    hot = position_divergences(2 * _logits(P), 2 * _logits(q), temperature=2.0)
    plain = position_divergences(_logits(P), _logits(q))
    for a, b in zip(hot, plain, strict=True):
        assert a.item() == pytest.approx(b.item(), rel=1e-5)


def test_rows_are_independent_positions():
    q = torch.tensor([[0.25, 0.25, 0.5], [0.5, 0.25, 0.25]]).log()
    alpha, ce, kl = position_divergences(torch.stack([P, P]).log(), q)
    assert ce.tolist() == pytest.approx([1.75 * LN2, H_P], rel=1e-5)
    assert alpha.tolist() == pytest.approx([0.75, 1.0])
    assert kl.tolist() == pytest.approx([0.25 * LN2, 0.0], abs=1e-5)
