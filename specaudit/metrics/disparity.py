"""Spread of the groups: unfairness U, its parts, and the speed-up disparity figures.

See ``docs/method.md#unfairness`` and ``docs/method.md#uncertainty``. This is
the one implementation of U: the audit's metrics, the mitigation probes and
the reports all call :func:`unfairness_u` and :func:`u_decomposition`.

Every group is weighted equally. The pure functions reduce over the last axis
(the groups); :func:`spread` bootstraps them with prompts resampled
independently within each group (stratified), all figures from the same
resamples.

Which value means "no disparity": U (and each variance part) = 0, variance =
0, min/max ratio = 1, coefficient of variation = 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from specaudit.metrics.bootstrap import bootstrap_intervals, interval_notes
from specaudit.metrics.divergence import floor_dominated, mean_divergence, total_variation
from specaudit.metrics.estimate import Estimate
from specaudit.metrics.speedup import measured_speedup

__all__ = [
    "SPREAD_FIGURES",
    "floor_dominated_groups",
    "speedup_cv",
    "speedup_min_max_ratio",
    "speedup_variance",
    "spread",
    "spread_statistic",
    "u_decomposition",
    "unfairness_u",
    "worst_group",
]

#: Outputs of :func:`spread_statistic`, in order. The four ``unfairness_u_*``
#: parts after ``share_slower`` were added later; the first five keep their
#: order so that old and new files read alike.
SPREAD_FIGURES = (
    "unfairness_u",
    "speedup_variance",
    "speedup_min_max_ratio",
    "speedup_cv",
    "share_slower",
    "unfairness_u_entropy",
    "unfairness_u_kl",
    "unfairness_u_covariance",
    "unfairness_u_tv",
)
#: Variance-type figures get BCa (their bootstrap distribution sits above the
#: estimate); so does the covariance term, the remainder of U after its two
#: variances, whose replicates are shifted the same way.
_BCA = np.array(
    [
        name.startswith("unfairness_u") or name in ("speedup_variance", "speedup_cv")
        for name in SPREAD_FIGURES
    ]
)
_COLUMNS = (
    "baseline_time_s",
    "spec_time_s",
    "cross_entropy_sum",
    "kl_sum",
    "alpha_sum",
    "verified",
    "slower",
)


def unfairness_u(cross_entropy: ArrayLike, *, axis: int = -1) -> np.ndarray:
    """Return the unfairness ``U = (1/m) sum_i (D_i - mean D)^2``.

    From arXiv 2510.02128 (definition **reconstructed**: "variance of
    per-task cross-entropy"). The population variance of the m groups' mean
    cross-entropies D_i, each group weighted equally. 0 means every group's
    drafter fits the target equally well. Sampling noise in the D_i inflates it: E[U-hat] is U plus
    the mean sampling variance of the D_i (times (m-1)/m).

    Applied to any other per-group divergence (KL, total variation) it gives
    the U of that divergence: ``unfairness_u(kl)`` is U_KL, ``unfairness_u(1 -
    alpha)`` is U_TV.
    """
    return np.var(np.asarray(cross_entropy, dtype=float), axis=axis)


def u_decomposition(
    entropy: ArrayLike, kl: ArrayLike, *, axis: int = -1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split U on cross-entropy into ``Var(H) + Var(KL) + 2 Cov(H, KL)`` over groups.

    Per position the cross-entropy is ``D = H(p) + KL(p || q)``, so each
    group's mean is ``D_i = H_i + KL_i`` and, with population moments over
    the m groups (each weighted equally, as in :func:`unfairness_u`),
    ``U(D) = Var(H) + Var(KL) + 2 Cov(H, KL)`` exactly.

    Parameters
    ----------
    entropy : array_like
        Per-group mean entropy of the target, H_i (groups on ``axis``). The
        drafter cannot change it.
    kl : array_like
        Per-group mean KL(p || q), KL_i: the drafter's misfit.
    axis : int
        The group axis.

    Returns
    -------
    var_entropy, var_kl, covariance_term : ndarray
        ``Var(H)``, ``Var(KL)`` (= U_KL) and ``2 Cov(H, KL)``.
    """
    h = np.moveaxis(np.asarray(entropy, dtype=float), axis, -1)
    k = np.moveaxis(np.asarray(kl, dtype=float), axis, -1)
    h_dev = h - h.mean(axis=-1, keepdims=True)
    k_dev = k - k.mean(axis=-1, keepdims=True)
    return (
        np.mean(h_dev**2, axis=-1),
        np.mean(k_dev**2, axis=-1),
        2.0 * np.mean(h_dev * k_dev, axis=-1),
    )


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
            ce = mean_divergence(total[..., 2], total[..., 5])
            kl = mean_divergence(total[..., 3], total[..., 5])
            # H = D - KL per position (the records keep D and KL, not H).
            var_h, var_kl, cov_term = u_decomposition(ce - kl, kl)
            tv = total_variation(mean_divergence(total[..., 4], total[..., 5]))
            return np.stack(
                [
                    unfairness_u(ce),
                    speedup_variance(speedups),
                    speedup_min_max_ratio(speedups),
                    speedup_cv(speedups),
                    total[..., 6].sum(axis=-1) / n_prompts,
                    var_h,
                    var_kl,
                    cov_term,
                    unfairness_u(tv),
                ]
            )

    return statistic


def floor_dominated_groups(frames: Sequence[pd.DataFrame]) -> tuple[str, ...]:
    """Return the groups whose cross-entropy and KL the log-q floor dominates.

    The rule is :func:`~specaudit.metrics.divergence.floor_dominated` on the
    group's pooled positions (``docs/method.md#floor``).
    """
    out = []
    for f in frames:
        if floor_dominated(f["kl_sum"].sum(), f["alpha_sum"].sum(), f["verified"].sum()):
            out.append(f"{f['language'].iloc[0]}/{f['task'].iloc[0]}")
    return tuple(out)


def spread(
    frames: Sequence[pd.DataFrame],
    *,
    n_boot: int,
    rng: np.random.Generator,
    confidence_level: float,
    where: str = "disparity",
) -> tuple[dict[str, Estimate | tuple[str, ...]], str | None, list[str]]:
    """Compute the spread figures of ``frames`` (one per group) with stratified intervals.

    Expanded intervals (n = the smallest group); BCa for U and its parts, the
    speed-up variance and the coefficient of variation, percentile for the
    min/max ratio and the share of slowed prompts. With fewer than two groups
    every figure is undefined.

    Returns
    -------
    dict
        Name in :data:`SPREAD_FIGURES` -> :class:`Estimate`, plus
        ``floor_dominated``: the groups of :func:`floor_dominated_groups`.
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
    floored = floor_dominated_groups(frames)
    notes = []
    if floored:
        notes.append(
            f"{where}: cross-entropy and KL are floor-dominated (the drafter gives probability 0 "
            f"to tokens the target rates) for {', '.join(floored)}; read unfairness_u_tv"
        )
    if len(frames) < 2:
        figures: dict = {name: Estimate.of(None) for name in SPREAD_FIGURES}
        return {**figures, "floor_dominated": floored}, worst, notes
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
    estimates: dict = {
        name: Estimate.of(e, lo, hi)
        for name, e, lo, hi in zip(SPREAD_FIGURES, iv.estimate, iv.low, iv.high, strict=True)
    }
    estimates["floor_dominated"] = floored
    return estimates, worst, notes + interval_notes(iv, SPREAD_FIGURES, where)
