"""Per-position divergences between target p and drafter q (docs/method.md#records).

Computed from logits the verify pass already produced: one softmax each,
never an extra forward pass.
"""

from __future__ import annotations

import torch

# One floor for the audit, the mitigation losses and the metrics' test of
# floor-dominated figures; metrics cannot import torch, so it lives there.
from specaudit.metrics.divergence import LOG_Q_FLOOR

__all__ = ["LOG_Q_FLOOR", "position_divergences"]


def position_divergences(
    p_logits: torch.Tensor, q_logits: torch.Tensor, temperature: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Distributional acceptance, cross-entropy and KL per position.

    Parameters
    ----------
    p_logits, q_logits : Tensor, shape (n, V)
        Target and drafter logits at the same n prefixes (``-inf`` allowed
        in q for tokens the drafter cannot propose).
    temperature : float
        Both distributions are softmax(logits / temperature).

    Returns
    -------
    alpha : Tensor, shape (n,)
        sum_x min(p, q) = 1 - TV(p, q); 1 means the drafter matches p.
    cross_entropy : Tensor, shape (n,)
        -sum_x p log q, with log q floored at :data:`LOG_Q_FLOOR`.
    kl : Tensor, shape (n,)
        KL(p || q) = cross-entropy - entropy(p); 0 means no divergence.
    """
    log_p = torch.log_softmax(p_logits.float() / temperature, dim=-1)
    log_q = torch.log_softmax(q_logits.float() / temperature, dim=-1)
    p, q = log_p.exp(), log_q.exp()
    alpha = torch.minimum(p, q).sum(dim=-1).clamp(0.0, 1.0)  # round-off can exceed 1
    cross_entropy = -(p * log_q.clamp_min(LOG_Q_FLOOR)).sum(dim=-1)
    entropy = -torch.special.xlogy(p, p).sum(dim=-1)
    return alpha, cross_entropy, (cross_entropy - entropy).clamp_min(0.0)
