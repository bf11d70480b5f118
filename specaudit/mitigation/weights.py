"""Group weights for s-CDF: shift-by-minimum, stabilised by an EMA.

Pure numpy; no torch. The s-CDF algorithm of arXiv 2510.02128 is not fully
specified in the paper; this follows the reconstruction in
``docs/method.md#s-cdf`` (the weighting rule is our choice,
``docs/method.md#our-choices``):

- ``D̂_i`` is group i's soft-label cross-entropy of the drafter against the
  frozen target;
- ``w_i = D̂_i − min_j D̂_j`` (no gradient flows through the weights), so the
  best-fit group gets weight 0 and the worst-fit group the most;
- minimising ``Σ w_i D̂_i / Σ w_i`` descends on U (the ∇D̄ term of ∇U vanishes
  at full batch and is dropped) and on the mean D.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["Ema", "shift_by_minimum", "uniform_weights"]


def shift_by_minimum(d: Sequence[float]) -> np.ndarray:
    """Shift-by-minimum weights ``w_i = d_i − min_j d_j``, normalised to sum 1.

    Parameters
    ----------
    d : sequence of float
        Per-group cross-entropies (finite).

    Returns
    -------
    numpy.ndarray
        Non-negative weights summing to 1; 0 for the best-fit group. When all
        groups fit equally well (every shift is 0) there is no disparity to
        correct and the weights are uniform, so training still descends on the
        mean instead of stopping dead.
    """
    d = np.asarray(d, dtype=float)
    if d.ndim != 1 or d.size == 0 or not np.all(np.isfinite(d)):
        raise ValueError(f"need a non-empty 1-d array of finite cross-entropies, got {d!r}")
    w = d - d.min()
    total = w.sum()
    if total <= 0:
        return uniform_weights(d.size)
    return w / total


def uniform_weights(m: int) -> np.ndarray:
    """Equal weights over ``m`` groups (the *balanced* baseline)."""
    if m < 1:
        raise ValueError("need at least one group")
    return np.full(m, 1.0 / m)


class Ema:
    """Per-group exponential moving average of minibatch cross-entropies.

    One minibatch per group is a noisy estimate of ``D_i``; weights computed
    from it would flip between groups from step to step. The EMA smooths
    them. A group not observed in a step (weighted sampling) keeps its value.

    Parameters
    ----------
    m : int
        Number of groups.
    decay : float
        Weight of the old value, in [0, 1).
    """

    def __init__(self, m: int, decay: float = 0.9) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.value = np.full(m, np.nan)

    def update(self, d: Sequence[float]) -> np.ndarray:
        """Fold in new estimates (NaN: not observed) and return the current values."""
        d = np.asarray(d, dtype=float)
        seen = np.isfinite(d)
        fresh = seen & ~np.isfinite(self.value)
        self.value[fresh] = d[fresh]  # first observation: no stale zero to decay from
        old = seen & ~fresh
        self.value[old] = self.decay * self.value[old] + (1 - self.decay) * d[old]
        return self.value.copy()

    @property
    def ready(self) -> bool:
        """Whether every group has been observed at least once."""
        return bool(np.all(np.isfinite(self.value)))

    def state_dict(self) -> dict:
        """Plain-Python state, safe for ``torch.load(weights_only=True)``."""
        return {"decay": self.decay, "value": [float(v) for v in self.value]}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict` output."""
        self.decay = float(state["decay"])
        self.value = np.asarray(state["value"], dtype=float)
