"""Before/after comparison of two runs over the same groups, paired on shared prompts.

The typical use is a mitigation: the *before* run audits the original
drafter, the *after* run the retrained one, on the same prompts.

Pairing. Within each (language, task) group, prompts are matched by their
``id``. On the shared prompts, one bootstrap resample draws prompt rows once
and evaluates **both** runs' group figures on the same rows, so prompt
difficulty cancels out of the change (paired resampling). The group figures
are exactly the metrics' own (:func:`specaudit.metrics.group.group_statistic`
on each run's per-prompt table), so the change compares like with like:

- speed-up ratio  ``speedup_after / speedup_before`` (1 = no change);
- acceptance difference ``acceptance_rate_after - acceptance_rate_before``;
- accepted-length difference of ``mean_accepted_length`` (0 = no change).

Resampling goes through :func:`specaudit.metrics.bootstrap.bootstrap_intervals`
(``scipy.stats.bootstrap`` with the run's small-sample expansion), seeded by
the after run's metrics seed. p-values invert the intervals and are
Holm-adjusted over the groups. A group with fewer than ``min_prompts``
shared prompts falls back to resampling each run's prompts independently
(``pairing="independent"``); one with fewer prompts still gets point
estimates only.

Aggregates. The mean speed-up (groups weighted equally) and the mean over the
best-served groups (the top quarter by speed-up before, at least one) are
compared in one stratified bootstrap: each group's prompts are resampled
within the group, paired across runs as above. U, the min/max ratio and the
worst group are shown for each run with that run's own intervals.

Per-prompt tables are rebuilt from each run's ``records.jsonl`` through
:func:`specaudit.metrics.load_records` and :func:`specaudit.metrics.prompt_frame`
(the counts behind the acceptance rate are not in ``prompts.csv``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from specaudit.errors import UserInputError
from specaudit.metrics import (
    GROUP_METRICS,
    ContrastEstimate,
    Estimate,
    load_records,
    prompt_frame,
)
from specaudit.metrics.bootstrap import bootstrap_intervals, bootstrap_p_values
from specaudit.metrics.contrasts import holm
from specaudit.metrics.group import group_statistic
from specaudit.reports.rundata import RunData

__all__ = [
    "CHANGE_FIGURES",
    "Comparison",
    "GroupChange",
    "MeanChange",
    "check_same_groups",
    "compare_runs",
]

_SPEEDUP = GROUP_METRICS.index("speedup")
_ACCEPTANCE = GROUP_METRICS.index("acceptance_rate")
_LENGTH = GROUP_METRICS.index("mean_accepted_length")

#: The paired changes per group, and the value meaning "no change".
CHANGE_FIGURES: tuple[tuple[str, float], ...] = (
    ("speedup_ratio", 1.0),
    ("acceptance_diff", 0.0),
    ("accepted_length_diff", 0.0),
)


@dataclass(frozen=True)
class GroupChange:
    """One group before and after.

    Attributes
    ----------
    group, language, task : str
    n_before, n_after, n_shared : int
        Prompts in each run, and prompts (by id) in both.
    pairing : str
        ``"paired"`` (shared prompts resampled together), ``"independent"``
        (each run's prompts resampled on their own) or ``"none"`` (too few
        prompts: no interval).
    before, after : dict of str to Estimate
        ``speedup``, ``acceptance_rate``, ``mean_accepted_length`` of each run,
        from its own ``metrics.json`` (all its prompts, its own intervals).
    speedup_ratio, acceptance_diff, accepted_length_diff : ContrastEstimate
        The changes on the compared prompts, with intervals, p-values against
        no change and Holm-adjusted p-values over the groups.
    """

    group: str
    language: str
    task: str
    n_before: int
    n_after: int
    n_shared: int
    pairing: str
    before: dict[str, Estimate]
    after: dict[str, Estimate]
    speedup_ratio: ContrastEstimate
    acceptance_diff: ContrastEstimate
    accepted_length_diff: ContrastEstimate


@dataclass(frozen=True)
class MeanChange:
    """Mean group speed-up (groups weighted equally) before and after, over ``groups``."""

    label: str
    groups: tuple[str, ...]
    before: float | None
    after: float | None
    ratio: Estimate


@dataclass(frozen=True)
class Comparison:
    """Everything a before/after report shows besides the two runs themselves."""

    after: RunData
    before: RunData
    groups: tuple[GroupChange, ...]
    mean_speedup: MeanChange
    best_served: MeanChange
    confidence_level: float
    n_boot: int
    seed: int
    notes: tuple[str, ...]
    by_task: tuple[MeanChange, ...] = ()  #: mean speed-up change within each task

    @property
    def u_change(self) -> float | None:
        """Relative change of U, ``U_after / U_before - 1`` (None when undefined)."""
        a = self.after.result.disparity.unfairness_u.estimate
        b = self.before.result.disparity.unfairness_u.estimate
        if a is None or b is None or b == 0:
            return None
        return a / b - 1.0


def check_same_groups(after: RunData, before: RunData) -> None:
    """Refuse two runs whose (language, task) groups differ.

    Raises
    ------
    UserInputError
        Naming the groups that only one of the runs has.
    """
    only_after, only_before = after.result.group_difference(before.result)
    if not only_after and not only_before:
        return
    parts = []
    if only_after:
        parts.append(f"only in {after.run_dir}: {', '.join(only_after)}")
    if only_before:
        parts.append(f"only in {before.run_dir}: {', '.join(only_before)}")
    raise UserInputError(
        f"cannot compare {after.run_dir} with {before.run_dir}: their groups differ "
        f"({'; '.join(parts)}); compare runs over the same languages and tasks"
    )


def _prompt_table(run: RunData) -> pd.DataFrame:
    path = run.run_dir / "records.jsonl"
    if not path.is_file():
        raise UserInputError(
            f"{run.run_dir} has no records.jsonl: a comparison resamples prompts and needs it"
        )
    try:
        return prompt_frame(load_records(path), gamma=run.result.settings.gamma)
    except ValueError as err:
        raise UserInputError(f"cannot read {path}: {err}") from None


@dataclass(frozen=True)
class _Design:
    """How one group is resampled: the samples and the (after, before) figures of them."""

    pairing: str
    n_shared: int
    samples: tuple[np.ndarray, ...]
    figures: Callable[..., tuple[np.ndarray, np.ndarray]]  # samples -> (after, before)


def _design(fa: pd.DataFrame, fb: pd.DataFrame, gammas: tuple[int, int], min_prompts: int):
    ids_b = set(fb["id"])
    shared = [i for i in fa["id"] if i in ids_b]
    if len(shared) >= min_prompts:
        stat_a = group_statistic(fa.set_index("id").loc[shared].reset_index(), gammas[0])
        stat_b = group_statistic(fb.set_index("id").loc[shared].reset_index(), gammas[1])

        def paired(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return stat_a(rows), stat_b(rows)

        return _Design("paired", len(shared), (np.arange(len(shared)),), paired)
    stat_a, stat_b = group_statistic(fa, gammas[0]), group_statistic(fb, gammas[1])

    def independent(rows_a: np.ndarray, rows_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return stat_a(rows_a), stat_b(rows_b)

    pairing = "independent" if min(len(fa), len(fb)) >= min_prompts else "none"
    return _Design(pairing, len(shared), (np.arange(len(fa)), np.arange(len(fb))), independent)


def _changes(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.stack(
            [a[_SPEEDUP] / b[_SPEEDUP], a[_ACCEPTANCE] - b[_ACCEPTANCE], a[_LENGTH] - b[_LENGTH]]
        )


def _finite(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def _group_changes(
    designs: dict[str, _Design], *, n_boot: int, rng: np.random.Generator, level: float
) -> dict[str, list[ContrastEstimate]]:
    nulls = [null for _, null in CHANGE_FIGURES]
    fits = {}
    for key, d in designs.items():
        if d.pairing == "none":
            est = _changes(*d.figures(*d.samples))
            fits[key] = (est, None, None, np.full(len(nulls), np.nan))
            continue
        iv = bootstrap_intervals(
            d.samples,
            lambda *rows, axis=-1, d=d: _changes(*d.figures(*rows)),
            n_boot=n_boot,
            rng=rng,
            confidence_level=level,
            n_units=min(len(s) for s in d.samples),
        )
        fits[key] = (iv.estimate, iv.low, iv.high, bootstrap_p_values(iv, nulls))
    keys = list(fits)
    p_all = np.array([fits[k][3] for k in keys]).reshape(len(keys), len(nulls))
    adjusted = np.column_stack([holm(p_all[:, j]) for j in range(len(nulls))])
    out = {}
    for key, p_adj in zip(keys, adjusted, strict=True):
        est, low, high, p = fits[key]
        out[key] = [
            ContrastEstimate(
                _finite(est[j]),
                None if low is None else _finite(low[j]),
                None if high is None else _finite(high[j]),
                "ok" if low is not None and _finite(low[j]) is not None else "insufficient data",
                p_value=_finite(p[j]),
                p_adjusted=_finite(p_adj[j]),
            )
            for j in range(len(nulls))
        ]
    return out


def _mean_changes(
    designs: dict[str, _Design],
    subsets: dict[str, list[str]],
    *,
    n_boot: int,
    rng: np.random.Generator,
    level: float,
) -> tuple[MeanChange, ...]:
    """Ratio of mean group speed-ups over each labelled subset of groups, stratified by group.

    All subsets come from one bootstrap, so their intervals share resamples.
    """
    keys = list(designs)
    resampled = [k for k in keys if min(len(s) for s in designs[k].samples) >= 2]
    slots, samples = {}, []
    for k in resampled:
        slots[k] = range(len(samples), len(samples) + len(designs[k].samples))
        samples += designs[k].samples

    def statistic(*rows: np.ndarray, axis: int = -1) -> np.ndarray:
        after, before = {}, {}
        for k in keys:
            d = designs[k]
            args = [rows[i] for i in slots[k]] if k in slots else d.samples
            a, b = d.figures(*args)
            after[k], before[k] = a[_SPEEDUP], b[_SPEEDUP]
        out = []
        for subset in subsets.values():
            ma = np.mean(np.broadcast_arrays(*[after[k] for k in subset]), axis=0)
            mb = np.mean(np.broadcast_arrays(*[before[k] for k in subset]), axis=0)
            with np.errstate(divide="ignore", invalid="ignore"):
                out += [ma / mb, ma, mb]
        return np.stack(out)

    if samples:
        iv = bootstrap_intervals(
            tuple(samples), statistic, n_boot=n_boot, rng=rng, confidence_level=level
        )
        estimate, low, high = iv.estimate, iv.low, iv.high
    else:  # no group has two prompts: point estimates only
        estimate = statistic()
        low = high = np.full(estimate.shape, np.nan)
    return tuple(
        MeanChange(
            label,
            tuple(subset),
            before=_finite(estimate[3 * i + 2]),
            after=_finite(estimate[3 * i + 1]),
            ratio=Estimate.of(estimate[3 * i], low[3 * i], high[3 * i]),
        )
        for i, (label, subset) in enumerate(subsets.items())
    )


def _figures_of(run: RunData, key: str) -> dict[str, Estimate]:
    g = run.result.group(key)
    return {
        "speedup": g.speedup,
        "acceptance_rate": g.acceptance_rate,
        "mean_accepted_length": g.mean_accepted_length,
    }


def compare_runs(after: RunData, before: RunData) -> Comparison:
    """Compare two runs over the same groups, paired on their shared prompts.

    Parameters
    ----------
    after, before : RunData
        The runs, e.g. after and before a mitigation. Their groups must
        match; prompts are matched by ``id`` within each group.

    Returns
    -------
    Comparison

    Raises
    ------
    UserInputError
        If the groups differ (naming them) or a run lacks ``records.jsonl``.
    """
    check_same_groups(after, before)
    settings = after.result.settings
    level, n_boot, seed = settings.confidence_level, settings.n_boot, settings.seed
    table_a, table_b = _prompt_table(after), _prompt_table(before)
    gammas = (after.result.settings.gamma, before.result.settings.gamma)
    designs, notes = {}, []
    for g in after.result.groups:
        fa = table_a[table_a["group"] == g.group].reset_index(drop=True)
        fb = table_b[table_b["group"] == g.group].reset_index(drop=True)
        designs[g.group] = _design(fa, fb, gammas, settings.min_prompts)
        if designs[g.group].pairing != "paired":
            notes.append(
                f"{g.group}: {designs[g.group].n_shared} shared prompts (< "
                f"{settings.min_prompts}); {designs[g.group].pairing} resampling"
            )
    rng = np.random.default_rng(seed)
    changes = _group_changes(designs, n_boot=n_boot, rng=rng, level=level)
    ranked = sorted(
        (g for g in before.result.groups if g.speedup.estimate is not None),
        key=lambda g: -g.speedup.estimate,
    )
    best = [g.group for g in ranked[: max(1, math.ceil(len(ranked) / 4))]] or list(designs)
    tasks = list(dict.fromkeys(g.task for g in after.result.groups))
    subsets = {
        "mean speed-up, all groups": list(designs),
        "mean speed-up, best-served groups": best,
        **{
            f"mean speed-up, {task}": [g.group for g in after.result.groups if g.task == task]
            for task in tasks
        },
    }
    mean_all, mean_best, *by_task = _mean_changes(
        designs, subsets, n_boot=n_boot, rng=rng, level=level
    )
    groups = tuple(
        GroupChange(
            group=g.group,
            language=g.language,
            task=g.task,
            n_before=before.result.group(g.group).n_prompts,
            n_after=g.n_prompts,
            n_shared=designs[g.group].n_shared,
            pairing=designs[g.group].pairing,
            before=_figures_of(before, g.group),
            after=_figures_of(after, g.group),
            speedup_ratio=changes[g.group][0],
            acceptance_diff=changes[g.group][1],
            accepted_length_diff=changes[g.group][2],
        )
        for g in after.result.groups
    )
    return Comparison(
        after=after,
        before=before,
        groups=groups,
        mean_speedup=mean_all,
        best_served=mean_best,
        by_task=tuple(by_task),
        confidence_level=level,
        n_boot=n_boot,
        seed=seed,
        notes=tuple(notes),
    )
