"""Drafter-target divergences and the Theorem 1 bounds (method.md section 5).

D is the mean cross-entropy ``-sum_x p log q`` over verified positions, KL
the mean ``KL(p || q)`` and TV the mean total variation ``1 - overlap``, with
``overlap = sum_x min(p, q)`` per verified position.
Theorem 1 of arXiv 2510.02128 (bound form **reconstructed**) gives lower
bounds on the speed-up S_T::

    S_T >= f(1 - TV) / (1 + gamma c)
        >= f(1 - sqrt(KL / 2)) / (1 + gamma c)
        >= f(1 - sqrt(D / 2)) / (1 + gamma c)

with ``f = expected_tokens_per_step`` and each argument of f clipped at 0.
The D form is usually vacuous; its value is as a trainable surrogate.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from specaudit.metrics._common import safe_ratio
from specaudit.metrics.speedup import analytic_speedup

__all__ = ["bound_ce", "bound_kl", "bound_tv", "mean_divergence", "total_variation"]


def mean_divergence(divergence_sum: ArrayLike, n_positions: ArrayLike) -> np.ndarray:
    """Token-pooled mean of a per-position divergence (cross-entropy or KL).

    0 for KL (and the entropy of p for cross-entropy) means the drafter
    matches the target.
    """
    return safe_ratio(divergence_sum, n_positions)


def total_variation(overlap: ArrayLike) -> np.ndarray:
    """``TV = 1 - overlap`` from the mean overlap ``sum_x min(p, q)`` of the two distributions.

    (The overlap is the records' per-position ``alpha`` and the metrics'
    ``distributional_alpha_*``: names kept for the JSON schema.)
    """
    return 1.0 - np.asarray(overlap, dtype=float)


def bound_tv(tv: ArrayLike, gamma: int, c: ArrayLike) -> np.ndarray:
    """Theorem 1 bound ``f(max(0, 1 - TV)) / (1 + gamma c)``."""
    alpha = np.clip(1.0 - np.asarray(tv, dtype=float), 0.0, None)
    return analytic_speedup(alpha, gamma, c)


def bound_kl(kl: ArrayLike, gamma: int, c: ArrayLike) -> np.ndarray:
    """Theorem 1 bound ``f(max(0, 1 - sqrt(KL / 2))) / (1 + gamma c)`` (Pinsker)."""
    with np.errstate(invalid="ignore"):
        alpha = np.clip(1.0 - np.sqrt(np.asarray(kl, dtype=float) / 2.0), 0.0, None)
    return analytic_speedup(alpha, gamma, c)


def bound_ce(cross_entropy: ArrayLike, gamma: int, c: ArrayLike) -> np.ndarray:
    """Theorem 1 bound ``f(max(0, 1 - sqrt(D / 2))) / (1 + gamma c)``.

    Valid because D = H(p) + KL >= KL.
    """
    with np.errstate(invalid="ignore"):
        alpha = np.clip(1.0 - np.sqrt(np.asarray(cross_entropy, dtype=float) / 2.0), 0.0, None)
    return analytic_speedup(alpha, gamma, c)
