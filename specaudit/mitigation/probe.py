"""Held-out probe evaluation: per-group D_i, KL_i, α_i and U during training.

The probe rows are few (tens per group), so the frozen target's log-probs at
their scored positions are computed once and kept in memory (float16); each
evaluation then runs only the drafter, over **full** distributions, so D_i
and U here are exact, unlike the top-k training loss. α, D and KL per
position are the audit's (:func:`~specaudit.audit.divergence.position_divergences`),
and U is the metrics' (:mod:`specaudit.metrics.disparity`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from specaudit.audit.divergence import position_divergences
from specaudit.audit.drafters.neural import align_vocab
from specaudit.metrics.disparity import u_decomposition, unfairness_u
from specaudit.mitigation.batches import Batch
from specaudit.mitigation.objective import position_group_means

__all__ = ["ProbeResult", "ProbeSet", "evaluate_probe", "make_probe_set"]


@dataclass(frozen=True)
class ProbeResult:
    """Per-group figures on the probe set, groups in training order."""

    cross_entropy: tuple[float, ...]  #: D_i = H(p) + KL(p‖q), soft-label cross-entropy
    kl: tuple[float, ...]  #: KL_i(p‖q), the part of D_i the drafter controls
    alpha: tuple[float, ...]  #: distributional acceptance Σ min(p, q)

    @property
    def unfairness_u(self) -> float:
        """U, the population variance of the groups' cross-entropies.

        See ``docs/method.md#unfairness``.
        """
        return float(unfairness_u(self.cross_entropy))

    @property
    def unfairness_u_kl(self) -> float:
        """U computed on KL_i instead of D_i: U without the target's own entropy."""
        return float(unfairness_u(self.kl))

    @property
    def unfairness_u_entropy(self) -> float:
        """Var(H) over groups, H_i = D_i - KL_i: the part of U no drafter can change."""
        entropy = np.subtract(self.cross_entropy, self.kl)
        return float(u_decomposition(entropy, self.kl)[0])

    @property
    def unfairness_u_tv(self) -> float:
        """U on the total variation, Var(1 - α_i) over groups."""
        return float(unfairness_u(1.0 - np.asarray(self.alpha)))

    @property
    def mean_cross_entropy(self) -> float:
        """Mean of the groups' cross-entropies (groups weighted equally)."""
        return float(np.mean(self.cross_entropy))


@dataclass(frozen=True)
class ProbeSet:
    """Probe batches with the target's log-probs at their scored positions."""

    batches: tuple[Batch, ...]
    target_log_probs: tuple[torch.Tensor, ...]  #: per batch: [positions, vocab] float16


@torch.no_grad()
def make_probe_set(target, batches: Sequence[Batch]) -> ProbeSet:
    """Run the frozen target once over the probe batches."""
    log_probs = []
    for b in batches:
        b = b.to(target.device)
        logits = target(input_ids=b.ids, attention_mask=b.attention).logits[b.score]
        log_probs.append(torch.log_softmax(logits.float(), dim=-1).to(torch.float16).cpu())
    return ProbeSet(tuple(batches), tuple(log_probs))


@torch.no_grad()
def evaluate_probe(drafter, probe: ProbeSet, m: int) -> ProbeResult:
    """Token-weighted per-group D, KL and α of ``drafter`` over the probe set."""
    was_training = drafter.training
    drafter.eval()
    sums = torch.zeros(3, m, dtype=torch.float64)
    count = torch.zeros(m, dtype=torch.float64)
    for batch, log_p in zip(probe.batches, probe.target_log_probs, strict=True):
        batch = batch.to(drafter.device)
        logits = drafter(input_ids=batch.ids, attention_mask=batch.attention).logits
        q_logits = align_vocab(logits[batch.score], log_p.shape[-1]).float()
        # The audit's own per-position definitions: the log-probs renormalise to themselves.
        alpha, ce, kl = position_divergences(log_p.float().to(q_logits.device), q_logits)
        groups = batch.groups.repeat_interleave(batch.score.sum(1))
        for i, values in enumerate((ce, kl, alpha)):
            means, n = position_group_means(values.double(), groups, m)
            sums[i] += torch.nan_to_num(means * n).cpu()
        count += n.cpu()
    drafter.train(was_training)
    if torch.any(count == 0):
        raise ValueError("a group has no probe positions")
    ce, kl, alpha = (tuple((s / count).tolist()) for s in sums)
    return ProbeResult(ce, kl, alpha)
