"""Distillation losses: the top-k form agrees with the full one when nothing is cut."""

from __future__ import annotations

import pytest
import torch

from specaudit.mitigation.objective import (
    coarse_entropy,
    group_means,
    position_group_means,
    soft_cross_entropy,
    sparse_soft_cross_entropy,
)


def _logits(seed: int, shape=(2, 5, 11)) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed)) * 2


def test_top_k_loss_equals_full_cross_entropy_when_k_is_the_vocabulary():
    p_logits, q_logits = _logits(0), _logits(1)
    full = soft_cross_entropy(p_logits, q_logits).reshape(-1)
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
