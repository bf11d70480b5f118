"""Acceptance estimators (docs/method.md#acceptance).

Every function takes *sums* over steps (or over the verified positions of the
steps) and works elementwise on arrays of any shape, so the same function gives
the point estimate (sums over a group's prompts) and the bootstrap replicates
(sums over resampled prompts). Undefined ratios (nothing observed) are NaN.

The four estimators must never be mixed up: only :func:`acceptance_rate`
is the Leviathan alpha that enters the speed-up formula.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from specaudit.metrics._common import safe_ratio

__all__ = [
    "acceptance_rate",
    "distributional_alpha",
    "draft_acceptance_rate",
    "mean_accepted_length",
    "position_acceptance",
]


def acceptance_rate(accepted: ArrayLike, rejections: ArrayLike) -> np.ndarray:
    """Leviathan alpha estimate: ``sum n_t / sum (n_t + 1[rejection at t])``.

    Counts drafts only up to and including the first rejection of each step,
    so a step whose drafter proposed nothing (``drafted = 0``) contributes
    nothing. 1.0 means every verified draft was accepted.

    Parameters
    ----------
    accepted : array_like
        Sum of n_t, the drafts accepted per step.
    rejections : array_like
        Number of steps with a rejection.
    """
    accepted = np.asarray(accepted, dtype=float)
    return safe_ratio(accepted, accepted + np.asarray(rejections, dtype=float))


def draft_acceptance_rate(accepted: ArrayLike, drafted: ArrayLike) -> np.ndarray:
    """Serving-engine acceptance rate: ``sum n_t / sum gamma_t``.

    Divides by every drafted token, including those after the first rejection
    that were never verified, so it is biased low as an estimate of alpha (at
    alpha = 0.5, gamma = 3 it reads 0.29). Never use it in the speed-up
    formula.
    """
    return safe_ratio(accepted, drafted)


def mean_accepted_length(emitted: ArrayLike, n_steps: ArrayLike) -> np.ndarray:
    """Tokens per target forward ``tau = mean_t (n_t + 1)``.

    Steps with ``drafted = 0`` count as target forwards that emit one token.
    Plain decoding scores 1.0.

    Parameters
    ----------
    emitted : array_like
        Sum over steps of n_t + 1.
    n_steps : array_like
        Number of steps (target verify forwards).
    """
    return safe_ratio(emitted, n_steps)


def position_acceptance(pos_accepted: ArrayLike, pos_verified: ArrayLike) -> np.ndarray:
    """``P(draft i accepted | draft i verified)`` for each position i.

    Parameters
    ----------
    pos_accepted, pos_verified : array_like, shape (..., gamma)
        Per position, the number of steps in which draft i was accepted
        (``n_t >= i``) and verified (``n_t + 1[rejection] >= i``).
    """
    return safe_ratio(pos_accepted, pos_verified)


def distributional_alpha(alpha_sum: ArrayLike, n_positions: ArrayLike) -> np.ndarray:
    """Mean distributional acceptance ``alpha(s) = sum_x min(p, q)`` = 1 - TV.

    Token-pooled when given the sum of alpha(s) over all verified positions
    and their number. Prompt-averaged when given the sum of each prompt's
    mean alpha(s) and the number of prompts (with at least one verified
    position).
    """
    return safe_ratio(alpha_sum, n_positions)
