"""Contrasts of each group against a reference group, with multiplicity control.

For every non-reference group g with reference r (docs/method.md#disparity, docs/method.md#holm):

- ``speedup_ratio`` = speedup_g / speedup_r, each the ratio of summed plain
  to summed speculative time; 1.0 means no disparity.
- ``acceptance_diff`` = acceptance_rate_g - acceptance_rate_r; 0.0 means no
  disparity.

Resampling. When the two groups are parallel prompt sets (every prompt has
an ``item_id`` and at least half of the items occur in both groups), items
are resampled as clusters: both groups' prompts of one item move together,
so the correlation between languages on the same item is kept (it narrows
the interval of the ratio honestly). Otherwise each group's prompts are
resampled independently (stratified).

Tests. Each contrast gets a two-sided p-value for the null (ratio 1,
difference 0) by inverting its bootstrap interval (see
:func:`~specaudit.metrics.bootstrap.bootstrap_p_values`). The contrasts of one
kind across the whole run form one family: Holm-adjusted p-values
(:func:`holm`, equal to ``statsmodels``' ``multipletests``) and simultaneous Bonferroni
intervals at level ``1 - (1 - confidence_level) / m`` control the
family-wise error over all m contrasts of that kind.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from specaudit.metrics.acceptance import acceptance_rate
from specaudit.metrics.bootstrap import (
    Intervals,
    bootstrap_intervals,
    bootstrap_p_values,
    interval_notes,
    reinterval,
)
from specaudit.metrics.estimate import ContrastEstimate, finite_or_none
from specaudit.metrics.result import Contrast
from specaudit.metrics.speedup import measured_speedup

__all__ = [
    "CONTRAST_FIGURES",
    "NULL_VALUES",
    "acceptance_diff",
    "contrasts",
    "holm",
    "resampling_design",
    "speedup_ratio",
]

#: Contrast figures, in output order of the contrast statistic.
CONTRAST_FIGURES = ("speedup_ratio", "acceptance_diff")
#: The value of each figure under "no disparity".
NULL_VALUES = np.array([1.0, 0.0])
_COLUMNS = ("baseline_time_s", "spec_time_s", "accepted", "rejections")
#: Share of shared items (over all items of the pair) needed for clustering.
_MIN_SHARED = 0.5


def speedup_ratio(
    plain_g: ArrayLike, spec_g: ArrayLike, plain_r: ArrayLike, spec_r: ArrayLike
) -> np.ndarray:
    """Speed-up of g over speed-up of r, from summed times (1: no disparity)."""
    return measured_speedup(plain_g, spec_g) / measured_speedup(plain_r, spec_r)


def acceptance_diff(
    accepted_g: ArrayLike, rejections_g: ArrayLike, accepted_r: ArrayLike, rejections_r: ArrayLike
) -> np.ndarray:
    """acceptance_rate of g minus that of r (0: no disparity)."""
    return acceptance_rate(accepted_g, rejections_g) - acceptance_rate(accepted_r, rejections_r)


def _figures(sums_g: np.ndarray, sums_r: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.stack(
            [
                speedup_ratio(sums_g[..., 0], sums_g[..., 1], sums_r[..., 0], sums_r[..., 1]),
                acceptance_diff(sums_g[..., 2], sums_g[..., 3], sums_r[..., 2], sums_r[..., 3]),
            ]
        )


@dataclass(frozen=True)
class _Design:
    resampling: str  # "cluster" or "stratified"
    data: tuple[np.ndarray, ...]
    statistic: Callable[..., np.ndarray]
    n_clusters: int | None


def resampling_design(group: pd.DataFrame, reference: pd.DataFrame) -> _Design:
    """Choose cluster (shared items) or stratified resampling for one pair.

    Returns the samples to hand to ``scipy.stats.bootstrap`` and the matching
    vectorised statistic (outputs :data:`CONTRAST_FIGURES`).
    """
    x_g = group[list(_COLUMNS)].to_numpy(float)
    x_r = reference[list(_COLUMNS)].to_numpy(float)
    items_g, items_r = group["item_id"], reference["item_id"]
    if items_g.notna().all() and items_r.notna().all():
        union = sorted(set(items_g) | set(items_r))
        shared = set(items_g) & set(items_r)
        if len(shared) >= _MIN_SHARED * len(union):
            index = {item: k for k, item in enumerate(union)}
            # Per item, the sums of each group's prompts of that item (0 if none).
            per_item_g = np.zeros((len(union), len(_COLUMNS)))
            per_item_r = np.zeros((len(union), len(_COLUMNS)))
            np.add.at(per_item_g, [index[i] for i in items_g], x_g)
            np.add.at(per_item_r, [index[i] for i in items_r], x_r)

            def clustered(items: np.ndarray, axis: int = -1) -> np.ndarray:
                items = np.moveaxis(np.asarray(items), axis, -1)
                return _figures(per_item_g[items].sum(axis=-2), per_item_r[items].sum(axis=-2))

            return _Design("cluster", (np.arange(len(union)),), clustered, len(union))

    def stratified(rows_g: np.ndarray, rows_r: np.ndarray, axis: int = -1) -> np.ndarray:
        rows_g = np.moveaxis(np.asarray(rows_g), axis, -1)
        rows_r = np.moveaxis(np.asarray(rows_r), axis, -1)
        sums_g, sums_r = np.broadcast_arrays(x_g[rows_g].sum(axis=-2), x_r[rows_r].sum(axis=-2))
        return _figures(sums_g, sums_r)

    data = (np.arange(len(group)), np.arange(len(reference)))
    return _Design("stratified", data, stratified, None)


def holm(p_values: ArrayLike) -> np.ndarray:
    """Holm step-down adjusted p-values.

    With the m tested p-values sorted, p_(1) <= ... <= p_(m), the adjusted
    value of p_(i) is ``max_{j <= i} min(1, (m - j + 1) p_(j))`` (Holm 1979).
    This equals ``statsmodels``' ``multipletests(method="holm")`` (tested),
    which is not called because it runs a full ``gc.collect()`` on every
    call: about 66 ms in a process holding torch and pandas, twice per
    :func:`~specaudit.metrics.compute_metrics`.

    NaN entries (contrasts without a test) are left out of the family and
    stay NaN.
    """
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    tested = np.flatnonzero(np.isfinite(p))
    if tested.size:
        order = tested[np.argsort(p[tested], kind="stable")]
        scaled = np.minimum(1.0, p[order] * np.arange(tested.size, 0, -1))
        out[order] = np.maximum.accumulate(scaled)
    return out


def contrasts(
    pairs: Sequence[tuple[pd.DataFrame, pd.DataFrame]],
    *,
    n_boot: int,
    rng: np.random.Generator,
    confidence_level: float,
    min_prompts: int,
) -> tuple[tuple[Contrast, ...], list[str]]:
    """Every (group, reference) contrast with intervals, p-values and Holm.

    A contrast gets no interval or test when either group, or the number of
    resampled items, is below ``min_prompts``.

    Returns
    -------
    tuple of Contrast
    list of str
        Notes on interval caveats.
    """
    fits: list[tuple[_Design, Intervals | None, np.ndarray]] = []
    notes: list[str] = []
    for group, reference in pairs:
        design = resampling_design(group, reference)
        # Independent units: items when clustered, else the smaller group.
        units = design.n_clusters or min(len(group), len(reference))
        enough = min(len(group), len(reference), units) >= min_prompts
        if enough:
            iv = bootstrap_intervals(
                design.data,
                design.statistic,
                n_boot=n_boot,
                rng=rng,
                confidence_level=confidence_level,
                n_units=units,
            )
            p = bootstrap_p_values(iv, NULL_VALUES)
            key = f"{group['language'].iloc[0]}/{group['task'].iloc[0]}"
            notes += interval_notes(iv, CONTRAST_FIGURES, f"contrast {key}")
        else:
            iv, p = None, np.full(len(CONTRAST_FIGURES), np.nan)
        fits.append((design, iv, p))

    significance = 1.0 - confidence_level
    p_all = np.array([p for _, _, p in fits]).reshape(len(fits), len(CONTRAST_FIGURES))
    adjusted = np.column_stack([holm(p_all[:, k]) for k in range(p_all.shape[1])])
    family = np.isfinite(p_all).sum(axis=0)
    sim_level = 1.0 - significance / np.maximum(family, 1)

    out = []
    for (group, reference), (design, iv, p), p_adj in zip(pairs, fits, adjusted, strict=True):
        figures = []
        if iv is None:
            values = design.statistic(*design.data)
            for value in values:
                figures.append(ContrastEstimate.of(value, sufficient=False))
        else:
            sims = {level: reinterval(iv, level) for level in set(sim_level.tolist())}
            for k in range(len(CONTRAST_FIGURES)):
                sim_low, sim_high = sims[float(sim_level[k])]
                base = ContrastEstimate.of(iv.estimate[k], iv.low[k], iv.high[k])
                tested = base.status == "ok" and np.isfinite(p[k])
                figures.append(
                    ContrastEstimate(
                        base.estimate,
                        base.ci_low,
                        base.ci_high,
                        base.status,
                        p_value=float(p[k]) if tested else None,
                        p_adjusted=float(p_adj[k]) if tested else None,
                        sim_ci_low=finite_or_none(sim_low[k]) if tested else None,
                        sim_ci_high=finite_or_none(sim_high[k]) if tested else None,
                        simultaneous_level=float(sim_level[k]) if tested else None,
                    )
                )
        out.append(
            Contrast(
                group=f"{group['language'].iloc[0]}/{group['task'].iloc[0]}",
                language=str(group["language"].iloc[0]),
                task=str(group["task"].iloc[0]),
                reference=f"{reference['language'].iloc[0]}/{reference['task'].iloc[0]}",
                n_prompts=len(group),
                n_reference_prompts=len(reference),
                resampling=design.resampling,
                n_clusters=design.n_clusters,
                speedup_ratio=figures[0],
                acceptance_diff=figures[1],
            )
        )
    return tuple(out), notes
