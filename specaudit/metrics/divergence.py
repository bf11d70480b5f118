"""Drafter-target divergences, the log-q floor and the Theorem 1 bounds.

See ``docs/method.md#divergences`` and ``docs/method.md#theorem-1``.

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

__all__ = [
    "FLOOR_KL_PER_TV",
    "LOG_Q_FLOOR",
    "bound_ce",
    "bound_kl",
    "bound_tv",
    "floor_dominated",
    "kl_per_tv",
    "mean_divergence",
    "total_variation",
]

#: Floor on log q in the per-position cross-entropy and KL (the audit applies
#: it; mitigation losses use the same one). Drafters with sparse support (an
#: n-gram drafter's count distribution, a top-k truncated drafter) give q = 0
#: on tokens the target still rates, which would make both infinite; the
#: floor (q >= ~1e-10) keeps them finite, but then it, not the drafter's fit,
#: sets their size. See ``docs/method.md#floor``.
LOG_Q_FLOOR = -23.0

#: A group's cross-entropy and KL are floor-dominated when its KL per unit of
#: total variation reaches half the floor's depth (11.5 nats). Every unit of
#: p's mass on a token where q = 0 adds ``-LOG_Q_FLOOR`` = 23 nats of KL and
#: one unit of TV, so a drafter whose divergence is mostly missing support sits
#: near 23; a drafter with full support pays log(p/q) per unit of TV, a few
#: nats (``docs/method.md#floor`` gives the measured values).
FLOOR_KL_PER_TV = -LOG_Q_FLOOR / 2


def mean_divergence(divergence_sum: ArrayLike, n_positions: ArrayLike) -> np.ndarray:
    """Token-pooled mean of a per-position divergence (cross-entropy or KL).

    0 for KL (and the entropy of p for cross-entropy) means the drafter
    matches the target.
    """
    return safe_ratio(divergence_sum, n_positions)


def kl_per_tv(kl_sum: ArrayLike, alpha_sum: ArrayLike, n_positions: ArrayLike) -> np.ndarray:
    """KL per unit of total variation, ``sum KL / sum (1 - alpha)`` over positions.

    NaN where no position diverges at all (TV sum 0).
    """
    tv_sum = np.asarray(n_positions, dtype=float) - np.asarray(alpha_sum, dtype=float)
    return safe_ratio(kl_sum, np.where(tv_sum > 0, tv_sum, 0.0))


def floor_dominated(kl_sum: ArrayLike, alpha_sum: ArrayLike, n_positions: ArrayLike) -> np.ndarray:
    """Whether the cross-entropy and KL are set by :data:`LOG_Q_FLOOR`, not by the fit.

    True when :func:`kl_per_tv` is at least :data:`FLOOR_KL_PER_TV`: most of
    the divergence then comes from tokens the drafter gives probability 0,
    each charged at the floor. The total variation ``1 - alpha`` does not
    depend on the floor and stays meaningful.
    """
    with np.errstate(invalid="ignore"):
        return np.asarray(kl_per_tv(kl_sum, alpha_sum, n_positions) >= FLOOR_KL_PER_TV)


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
