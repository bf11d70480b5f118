"""Small numeric helpers shared by the estimator modules."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import median_abs_deviation, norm

__all__ = ["finite_median", "lower_spread", "robust_spread", "safe_ratio"]


def robust_spread(values: ArrayLike) -> float:
    """Normal-consistent MAD (1.4826 MAD) of the finite values; NaN if there are none.

    It ignores up to half the values being outliers, so the stalls a fence
    is meant to catch do not widen the fence.
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    return float(median_abs_deviation(x, scale="normal")) if len(x) else float("nan")


def lower_spread(values: ArrayLike) -> float:
    """Normal-consistent spread of the finite values from their lower half; NaN if none.

    ``median(m - x | x <= m) / Phi^-1(3/4)`` with ``m`` the median: for
    normal values it estimates sigma as the MAD does. Stalls only ever slow a
    decode (or a step) down, so they sit above the median; a run with many
    mildly slowed decodes widens the MAD, but hardly the spread of the fast
    half, which keeps the machine's own jitter. Fences built on it stay
    tight under a noisy neighbour.
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if not len(x):
        return float("nan")
    below = np.median(x) - x[x <= np.median(x)]
    return float(np.median(below) / norm.ppf(0.75))


def finite_median(values: ArrayLike, empty: float = np.nan) -> float:
    """Median of the finite values; ``empty`` where there are none (an unmeasured kind)."""
    x = np.asarray(values, dtype=float)
    finite = x[np.isfinite(x)]
    return float(np.median(finite)) if len(finite) else empty


def safe_ratio(numerator: ArrayLike, denominator: ArrayLike) -> np.ndarray:
    """Elementwise ``numerator / denominator``, ``NaN`` where the denominator is 0.

    Every estimator in this package is a ratio of sums; a zero denominator
    means "nothing observed", which is undefined rather than 0 or infinite.
    """
    num = np.asarray(numerator, dtype=float)
    den = np.asarray(denominator, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den != 0, num / np.where(den != 0, den, 1.0), np.nan)
