"""Speed-up estimators, measured and analytic (docs/method.md#speedup).

Measured speed-up is the ratio of summed plain to summed speculative wall
time; 1.0 means speculation neither helps nor hurts, below 1.0 it slows
decoding down. The analytic speed-up is ``f_gamma(alpha) / (1 + gamma c)``
with ``f_gamma(alpha) = (1 - alpha^(gamma+1)) / (1 - alpha)`` the expected
tokens per step and c the drafter/target forward-cost ratio.

All functions are elementwise (or reduce over ``axis``) on arrays of sums,
so they serve both point estimates and bootstrap replicates.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import elementwise

from specaudit.metrics._common import safe_ratio

__all__ = [
    "analytic_speedup",
    "break_even_alpha",
    "chars_per_second",
    "expected_tokens_per_step",
    "forward_cost_ratio",
    "measured_speedup",
    "share_slower",
    "speedup_quantiles",
    "tokens_per_char",
    "tokens_per_second",
]


def measured_speedup(baseline_time_s: ArrayLike, spec_time_s: ArrayLike) -> np.ndarray:
    """Group speed-up ``sum T_base / sum T_spec`` from summed wall times.

    The ratio of sums weights prompts by their length, which is what a user
    decoding the whole group would see.
    """
    return safe_ratio(baseline_time_s, spec_time_s)


def speedup_quantiles(ratios: ArrayLike, q: ArrayLike, *, axis: int = -1) -> np.ndarray:
    """Quantiles of the per-prompt ratios ``T_base / T_spec`` along ``axis``.

    Returns an array with the quantile axis first (numpy's convention).
    """
    return np.quantile(np.asarray(ratios, dtype=float), q, axis=axis)


def share_slower(ratios: ArrayLike, *, axis: int = -1) -> np.ndarray:
    """Share of prompts whose own speed-up is below 1.0 (0 means none slowed)."""
    return np.mean(np.asarray(ratios, dtype=float) < 1.0, axis=axis)


def expected_tokens_per_step(alpha: ArrayLike, gamma: int) -> np.ndarray:
    """``f_gamma(alpha) = (1 - alpha^(gamma+1)) / (1 - alpha) = sum_{i=0}^{gamma} alpha^i``.

    Written as the finite sum, which is exact at alpha = 1 (``gamma + 1``).
    """
    alpha = np.asarray(alpha, dtype=float)
    total = np.ones_like(alpha)
    power = np.ones_like(alpha)
    for _ in range(gamma):
        power = power * alpha
        total = total + power
    return total


def forward_cost_ratio(
    draft_forward_sum: ArrayLike,
    n_draft_measured: ArrayLike,
    target_forward_sum: ArrayLike,
    n_target_measured: ArrayLike,
) -> np.ndarray:
    """Forward-cost ratio ``c`` = mean drafter forward / mean target forward.

    Means are over prompts: ``draft_forward_s`` is averaged over prompts that
    ran at least one drafter forward, ``target_forward_s`` over all prompts.
    c = 0 where no drafter forward ran (a drafter that costs nothing).

    Parameters
    ----------
    draft_forward_sum : array_like
        Sum of ``draft_forward_s`` over prompts with drafter forwards.
    n_draft_measured : array_like
        Number of those prompts.
    target_forward_sum, n_target_measured : array_like
        Sum of ``target_forward_s`` and the number of prompts.
    """
    n_draft = np.asarray(n_draft_measured, dtype=float)
    draft_mean = np.where(n_draft > 0, safe_ratio(draft_forward_sum, n_draft), 0.0)
    return safe_ratio(draft_mean, safe_ratio(target_forward_sum, n_target_measured))


def analytic_speedup(alpha: ArrayLike, gamma: int, c: ArrayLike) -> np.ndarray:
    """Analytic speed-up ``f_gamma(alpha) / (1 + gamma c)``."""
    return expected_tokens_per_step(alpha, gamma) / (1.0 + gamma * np.asarray(c, dtype=float))


def break_even_alpha(gamma: int, c: ArrayLike) -> np.ndarray:
    """Return the alpha at which the analytic speed-up is 1: ``f_gamma(alpha) = 1 + gamma c``.

    Solved by bracketed root finding on [0, 1] (``scipy.optimize.elementwise
    .find_root``; f is increasing in alpha). 0 when c = 0 (any acceptance
    pays off); capped at 1 when c >= 1, where no alpha <= 1 breaks even. For
    gamma = 1 the answer is c itself.
    """
    c = np.asarray(c, dtype=float)
    out = np.where(c <= 0, 0.0, np.where(c >= 1, 1.0, np.nan))
    inside = (c > 0) & (c < 1)
    if np.any(inside):
        # f_gamma(alpha) - 1 - gamma c goes from -gamma c < 0 at 0 to gamma (1 - c) > 0 at 1.
        target = 1.0 + gamma * c[inside]
        res = elementwise.find_root(
            lambda a, t: expected_tokens_per_step(a, gamma) - t,
            (np.zeros_like(target), np.ones_like(target)),
            args=(target,),
        )
        out = np.array(out, dtype=float)
        out[inside] = res.x
    return out


def tokens_per_char(n_tokens: ArrayLike, n_chars: ArrayLike) -> np.ndarray:
    """Output tokens per output character (higher: the tokenizer splits finer)."""
    return safe_ratio(n_tokens, n_chars)


def chars_per_second(n_chars: ArrayLike, time_s: ArrayLike) -> np.ndarray:
    """Output characters per second of wall time (prefill included)."""
    return safe_ratio(n_chars, time_s)


def tokens_per_second(n_tokens: ArrayLike, time_s: ArrayLike) -> np.ndarray:
    """Output tokens per second of wall time (prefill included)."""
    return safe_ratio(n_tokens, time_s)
