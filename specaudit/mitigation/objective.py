"""Per-group distillation losses on padded batches (torch).

The per-position α, cross-entropy and KL of full distributions have one
implementation, :func:`specaudit.audit.divergence.position_divergences`; the
losses here are the training forms: the top-k coarsened cross-entropy that
s-CDF and *balanced* minimise (``docs/method.md#s-cdf``) and the plain
language-model loss of *mono*.

A batch row is a prompt followed by the frozen target's continuation. Only
positions that predict a continuation token are scored: those are the
positions the audit's acceptance depends on. ``mask[b, t]`` is True when the
logits at position ``t`` predict continuation token ``t + 1``.
"""

from __future__ import annotations

import math

import torch

from specaudit.audit.divergence import LOG_Q_FLOOR

__all__ = [
    "coarse_entropy",
    "group_means",
    "hard_cross_entropy",
    "position_group_means",
    "sparse_soft_cross_entropy",
]


def hard_cross_entropy(drafter_logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Next-token cross-entropy ``−log q(x_{t+1})`` at every position but the last.

    Returns ``[batch, time − 1]``; the *mono* strategy's language-model loss.
    """
    logits = drafter_logits[:, :-1].float()
    return torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1), reduction="none"
    ).view(ids.shape[0], -1)


def group_means(
    values: torch.Tensor, mask: torch.Tensor, groups: torch.Tensor, m: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Token-weighted mean of ``values`` over masked positions, per group.

    Parameters
    ----------
    values : torch.Tensor
        ``[batch, time]`` per-position values.
    mask : torch.Tensor
        ``[batch, time]`` bool, positions to score.
    groups : torch.Tensor
        ``[batch]`` group index of each row.
    m : int
        Number of groups.

    Returns
    -------
    means, counts : torch.Tensor
        ``[m]`` each. A group without scored positions has mean NaN and count 0.
    """
    w = mask.to(values.dtype)
    row_sum = (values * w).sum(1)
    row_n = w.sum(1)
    sums = torch.zeros(m, dtype=values.dtype, device=values.device).index_add(0, groups, row_sum)
    counts = torch.zeros(m, dtype=values.dtype, device=values.device).index_add(0, groups, row_n)
    means = torch.where(counts > 0, sums / counts.clamp_min(1), torch.full_like(sums, float("nan")))
    return means, counts


def sparse_soft_cross_entropy(
    drafter_logits: torch.Tensor, indices: torch.Tensor, probs: torch.Tensor
) -> torch.Tensor:
    """Cross-entropy against cached top-k soft labels, with the tail as one bucket.

    ``−Σ_top-k p(v) log q(v) − (1 − Σ_top-k p) log(1 − Σ_top-k q)``: the
    cross-entropy of the target's distribution coarsened to its top-k tokens
    plus "anything else". Without the bucket a drafter would not be charged
    for mass it puts outside the target's top-k.

    Parameters
    ----------
    drafter_logits : torch.Tensor
        ``[positions, vocab]`` at the scored positions only.
    indices, probs : torch.Tensor
        ``[positions, k]`` token ids (long) and target probabilities.
    """
    log_q = torch.log_softmax(drafter_logits.float(), dim=-1).clamp_min(LOG_Q_FLOOR)
    top_log_q = log_q.gather(-1, indices)
    tail_p = (1 - probs.sum(-1)).clamp_min(0)
    tail_q = (1 - top_log_q.exp().sum(-1)).clamp_min(math.exp(LOG_Q_FLOOR))
    return -(probs * top_log_q).sum(-1) - tail_p * tail_q.log()


def position_group_means(
    values: torch.Tensor, groups: torch.Tensor, m: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean of flat per-position ``values`` per group (``groups``: one index each).

    Returns means (NaN for a group without positions) and counts, ``[m]`` each.
    """
    sums = torch.zeros(m, dtype=values.dtype, device=values.device).index_add(0, groups, values)
    ones = torch.ones_like(values)
    counts = torch.zeros(m, dtype=values.dtype, device=values.device).index_add(0, groups, ones)
    nan = torch.full_like(sums, float("nan"))
    return torch.where(counts > 0, sums / counts.clamp_min(1), nan), counts


def coarse_entropy(probs: torch.Tensor) -> torch.Tensor:
    """Entropy of top-k probabilities plus their tail bucket, per position.

    Subtracted from :func:`sparse_soft_cross_entropy` it gives the coarsened
    KL(p‖q), the part of the loss the drafter can reduce.
    """
    p = probs.float()
    tail = (1 - p.sum(-1)).clamp_min(0)
    return -(torch.special.xlogy(p, p).sum(-1) + torch.special.xlogy(tail, tail))
