"""Distillation losses (top-k agrees with full when nothing is cut) and the probe."""

from __future__ import annotations

import math

import pytest
import torch

from specaudit.audit.divergence import position_divergences
from specaudit.mitigation.batches import Batch
from specaudit.mitigation.objective import (
    coarse_entropy,
    group_means,
    position_group_means,
    sparse_soft_cross_entropy,
)
from specaudit.mitigation.probe import ProbeSet, evaluate_probe


def _logits(seed: int, shape=(2, 5, 11)) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed)) * 2


def test_top_k_loss_equals_full_cross_entropy_when_k_is_the_vocabulary():
    p_logits, q_logits = _logits(0), _logits(1)
    full = position_divergences(p_logits.reshape(-1, 11), q_logits.reshape(-1, 11))[1]
    probs, idx = torch.softmax(p_logits, -1).reshape(-1, 11).topk(11)
    sparse = sparse_soft_cross_entropy(q_logits.reshape(-1, 11), idx, probs)
    torch.testing.assert_close(sparse, full, atol=1e-4, rtol=1e-4)


def test_tail_bucket_charges_mass_outside_the_target_top_k():
    probs = torch.tensor([[0.6, 0.2]])  # 0.2 of the target's mass is in the tail
    idx = torch.tensor([[0, 1]])
    matched = torch.log(torch.tensor([[0.6, 0.2, 0.1, 0.1]]))
    greedy = torch.log(torch.tensor([[0.7, 0.29, 0.005, 0.005]]))
    # Same top-k shape, but the second drafter starves the tail the target keeps.
    assert sparse_soft_cross_entropy(greedy, idx, probs) > sparse_soft_cross_entropy(
        matched, idx, probs
    )
    # Minus the coarse entropy, the matched drafter has zero coarsened KL.
    kl = sparse_soft_cross_entropy(matched, idx, probs) - coarse_entropy(probs)
    assert kl.item() == pytest.approx(0.0, abs=1e-5)


def test_group_means_are_token_weighted_and_nan_for_empty_groups():
    values = torch.tensor([[1.0, 3.0, 9.0], [2.0, 2.0, 2.0]])
    mask = torch.tensor([[True, True, False], [True, False, False]])
    means, counts = group_means(values, mask, torch.tensor([0, 0]), 2)
    assert means[0].item() == pytest.approx(2.0)  # (1 + 3 + 2) / 3
    assert counts.tolist() == [3.0, 0.0]
    assert torch.isnan(means[1])
    flat, n = position_group_means(torch.tensor([1.0, 3.0, 5.0]), torch.tensor([1, 1, 0]), 3)
    assert flat[:2].tolist() == [5.0, 2.0] and n.tolist() == [1.0, 2.0, 0.0]


class _FixedDrafter(torch.nn.Module):
    """Returns the same next-token logits at every position."""

    def __init__(self, probs: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("row", probs.log())

    @property
    def device(self) -> torch.device:
        return self.row.device

    def forward(self, input_ids, attention_mask=None):
        logits = self.row.expand(*input_ids.shape, -1)
        return type("Out", (), {"logits": logits})()


def test_probe_d_kl_alpha_and_u_from_hand_computed_distributions():
    ln2 = math.log(2.0)
    p = torch.tensor([0.5, 0.25, 0.25])  # the target, at every scored position
    q = torch.tensor([0.25, 0.25, 0.5])
    # Group 0 has 2 scored positions, group 1 has 1; row 1 has one padded position.
    ids = torch.zeros((2, 4), dtype=torch.long)
    attention = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])
    score = torch.tensor([[False, True, True, False], [False, True, False, False]])
    batch = Batch(ids, attention, score, torch.tensor([0, 1]))
    log_p = p.log().expand(int(score.sum()), -1).to(torch.float16)
    probe = ProbeSet((batch,), (log_p,))
    result = evaluate_probe(_FixedDrafter(q), probe, m=2)
    # D = 1.75 ln 2, KL = 0.25 ln 2, α = 0.75 (as in tests/audit/test_divergence.py),
    # up to the float16 storage of the target's log-probs.
    assert result.cross_entropy == pytest.approx((1.75 * ln2,) * 2, rel=1e-3)
    assert result.kl == pytest.approx((0.25 * ln2,) * 2, rel=1e-2)
    assert result.alpha == pytest.approx((0.75, 0.75), rel=1e-3)
    assert result.unfairness_u == pytest.approx(0.0, abs=1e-9)


def test_probe_groups_differ_by_their_own_positions():
    p = torch.tensor([0.5, 0.25, 0.25])
    drafter = _FixedDrafter(torch.tensor([0.25, 0.25, 0.5]))
    ids = torch.zeros((2, 3), dtype=torch.long)
    score = torch.tensor([[True, False, False], [True, False, False]])
    batch = Batch(ids, torch.ones_like(ids), score, torch.tensor([0, 1]))
    # Group 1's target matches the drafter exactly: KL 0, α 1, D = H(q) = 1.5 ln 2.
    log_p = torch.stack([p, torch.tensor([0.25, 0.25, 0.5])]).log().to(torch.float16)
    result = evaluate_probe(drafter, ProbeSet((batch,), (log_p,)), m=2)
    ln2 = math.log(2.0)
    assert result.kl[1] == pytest.approx(0.0, abs=1e-3)
    assert result.alpha[1] == pytest.approx(1.0, rel=1e-3)
    d = (1.75 * ln2, 1.5 * ln2)
    assert result.cross_entropy == pytest.approx(d, rel=1e-3)
    assert result.unfairness_u == pytest.approx((0.25 * ln2 / 2) ** 2, rel=1e-2)
