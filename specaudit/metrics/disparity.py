"""Spread of the groups: unfairness U and the speed-up disparity figures (method.md 5-6).

Every group is weighted equally. The pure functions reduce over the last axis
(the groups); :func:`spread` bootstraps them with prompts resampled
independently within each group (stratified).

Which value means "no disparity": U = 0, variance = 0, min/max ratio = 1,
coefficient of variation = 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from specaudit.metrics.bootstrap import bootstrap_intervals, interval_notes
from specaudit.metrics.divergence import mean_divergence
from specaudit.metrics.estimate import Estimate
from specaudit.metrics.speedup import measured_speedup

__all__ = [
    "SPREAD_FIGURES",
    "speedup_cv",
    "speedup_min_max_ratio",
    "speedup_variance",
    "spread",
    "spread_statistic",
    "unfairness_u",
    "worst_group",
]

#: Outputs of :func:`spread_statistic`, in order.
SPREAD_FIGURES = (
    "unfairness_u",
    "speedup_variance",
    "speedup_min_max_ratio",
    "speedup_cv",
    "share_slower",
)
#: Variance-type figures get BCa (their bootstrap distribution sits above the estimate).
_BCA = np.array(
    [name in ("unfairness_u", "speedup_variance", "speedup_cv") for name in SPREAD_FIGURES]
)
_COLUMNS = ("baseline_time_s", "spec_time_s", "cross_entropy_sum", "verified", "slower")


def unfairness_u(cross_entropy: ArrayLike, *, axis: int = -1) -> np.ndarray:
    """Return the unfairness ``U = (1/m) sum_i (D_i - mean D)^2``.

    From arXiv 2510.02128 (definition **reconstructed**: "variance of
    per-task cross-entropy"). The population variance of the m groups' mean
    cross-entropies D_i, each group weighted equally. 0 means every group's
    drafter fits the target equally well. Sampling noise in the D_i inflates it: E[U-hat] is U plus
    the mean sampling variance of the D_i (times (m-1)/m).
    """
    return np.var(np.asarray(cross_entropy, dtype=float), axis=axis)


def speedup_variance(speedups: ArrayLike, *, axis: int = -1) -> np.ndarray:
    """Return the population variance of the group speed-ups (0: no disparity)."""
    return np.var(np.asarray(speedups, dtype=float), axis=axis)


def speedup_min_max_ratio(speedups: ArrayLike, *, axis: int = -1) -> np.ndarray:
    """Return the smallest over the largest group speed-up (1: no disparity).

    Biased low: with equal groups, noise alone pushes the minimum down and
    the maximum up (5 equal groups of 30 prompts average about 0.93), and its
    bootstrap interval almost never covers 1. Use it to describe, not to gate.
    """
    speedups = np.asarray(speedups, dtype=float)
    return np.min(speedups, axis=axis) / np.max(speedups, axis=axis)


def speedup_cv(speedups: ArrayLike, *, axis: int = -1) -> np.ndarray:
    """Return the coefficient of variation, population std / mean of speed-ups (0: none)."""
    speedups = np.asarray(speedups, dtype=float)
    return np.std(speedups, axis=axis) / np.mean(speedups, axis=axis)


def worst_group(speedups: Sequence[float], names: Sequence[str]) -> str | None:
    """Return the group with the smallest speed-up (``None`` if none is defined)."""
    values = np.asarray(speedups, dtype=float)
    if not np.isfinite(values).any():
        return None
    return str(names[int(np.nanargmin(np.where(np.isfinite(values), values, np.nan)))])


def spread_statistic(frames: Sequence[pd.DataFrame]) -> Callable[..., np.ndarray]:
    """Build the vectorised statistic of several groups for ``scipy.stats.bootstrap``.

    ``statistic(rows_1, ..., rows_m, axis=-1)`` takes one array of prompt row
    numbers per group and returns the :data:`SPREAD_FIGURES` stacked first.
    """
    matrices = []
    for frame in frames:
        cols = [frame[c].to_numpy(float) for c in _COLUMNS[:-1]]
        cols.append((frame["speedup"].to_numpy(float) < 1.0).astype(float))
        matrices.append(np.column_stack(cols))

    def statistic(*rows: np.ndarray, axis: int = -1) -> np.ndarray:
        rows = tuple(np.moveaxis(np.asarray(r), axis, -1) for r in rows)
        sums = [m[r].sum(axis=-2) for m, r in zip(matrices, rows, strict=True)]
        total = np.stack(np.broadcast_arrays(*sums), axis=-2)  # (..., groups, columns)
        n_prompts = sum(r.shape[-1] for r in rows)
        with np.errstate(divide="ignore", invalid="ignore"):
            speedups = measured_speedup(total[..., 0], total[..., 1])
            ce = mean_divergence(total[..., 2], total[..., 3])
            return np.stack(
                [
                    unfairness_u(ce),
                    speedup_variance(speedups),
                    speedup_min_max_ratio(speedups),
                    speedup_cv(speedups),
                    total[..., 4].sum(axis=-1) / n_prompts,
                ]
            )

    return statistic


def spread(
    frames: Sequence[pd.DataFrame],
    *,
    n_boot: int,
    rng: np.random.Generator,
    confidence_level: float,
    where: str = "disparity",
) -> tuple[dict[str, Estimate], str | None, list[str]]:
    """Compute the spread figures of ``frames`` (one per group) with stratified intervals.

    Expanded intervals (n = the smallest group); BCa for U, the speed-up
    variance and the coefficient of variation, percentile for the min/max
    ratio and the share of slowed prompts. With fewer than two groups every
    figure is undefined.

    Returns
    -------
    dict
        Name in :data:`SPREAD_FIGURES` -> :class:`Estimate`.
    str or None
        Worst group (smallest speed-up).
    list of str
        Notes on interval caveats, prefixed with ``where``.
    """
    names = [f"{f['language'].iloc[0]}/{f['task'].iloc[0]}" for f in frames]
    speedups = [
        float(measured_speedup(f["baseline_time_s"].sum(), f["spec_time_s"].sum())) for f in frames
    ]
    worst = worst_group(speedups, names)
    if len(frames) < 2:
        return {name: Estimate.of(None) for name in SPREAD_FIGURES}, worst, []
    iv = bootstrap_intervals(
        tuple(np.arange(len(f)) for f in frames),
        spread_statistic(frames),
        n_boot=n_boot,
        rng=rng,
        confidence_level=confidence_level,
        bca=_BCA,
        n_units=min(len(f) for f in frames),
        batch=max(1, 2_000_000 // sum(len(f) for f in frames)),
    )
    estimates = {
        name: Estimate.of(e, lo, hi)
        for name, e, lo, hi in zip(SPREAD_FIGURES, iv.estimate, iv.low, iv.high, strict=True)
    }
    return estimates, worst, interval_notes(iv, SPREAD_FIGURES, where)
