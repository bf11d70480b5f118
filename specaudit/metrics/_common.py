"""Small numeric helpers shared by the estimator modules."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["safe_ratio"]


def safe_ratio(numerator: ArrayLike, denominator: ArrayLike) -> np.ndarray:
    """Elementwise ``numerator / denominator``, ``NaN`` where the denominator is 0.

    Every estimator in this package is a ratio of sums; a zero denominator
    means "nothing observed", which is undefined rather than 0 or infinite.
    """
    num = np.asarray(numerator, dtype=float)
    den = np.asarray(denominator, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den != 0, num / np.where(den != 0, den, 1.0), np.nan)
