"""One comparison of two runs over the same groups, paired on shared prompts.

Both the before/after report (:mod:`specaudit.reports.compare`) and the
gate's check against a previous release (:mod:`specaudit.gate.baseline`) use
:func:`compare_runs`, so given the same two runs they see the same intervals.

Pairing. Within each (language, task) group, prompts are matched by their
``id``. On the shared prompts, one bootstrap resample draws prompt rows once
and evaluates **both** runs' group figures on the same rows, so prompt
difficulty cancels out of the change (paired resampling). The group figures
are exactly the metrics' own (:func:`specaudit.metrics.group.group_statistic`
on each run's per-prompt table):

- speed-up ratio  ``speedup_current / speedup_previous`` (1 = no change);
- acceptance difference ``acceptance_rate_current - acceptance_rate_previous``;
- accepted-length difference of ``mean_accepted_length`` (0 = no change).

A group with fewer than ``min_prompts`` shared prompts falls back to
resampling each run's prompts independently within the group (stratified,
``pairing="independent"``); one with fewer prompts still gets point
estimates only (``pairing="none"``). Resampling goes through
:func:`specaudit.metrics.bootstrap.bootstrap_intervals`, seeded by the
current run's metrics seed; p-values invert the intervals and are
Holm-adjusted over the groups.

Means. Ratios of mean group speed-ups (groups weighted equally) over labelled
subsets of groups come from one stratified bootstrap over all groups, drawn
after the per-group changes from the same generator.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from specaudit.errors import UserInputError
from specaudit.metrics._load import load_records, prompt_frame
from specaudit.metrics.bootstrap import bootstrap_intervals, bootstrap_p_values
from specaudit.metrics.contrasts import holm
from specaudit.metrics.estimate import (
    STATUS_INSUFFICIENT,
    STATUS_OK,
    ContrastEstimate,
    Estimate,
    finite_or_none,
)
from specaudit.metrics.group import group_statistic
from specaudit.metrics.result import GROUP_METRICS, MetricsResult

__all__ = [
    "CHANGE_FIGURES",
    "GroupComparison",
    "MeanChange",
    "RunComparison",
    "check_same_groups",
    "compare_runs",
    "run_prompts",
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
class GroupComparison:
    """One group's change between two runs.

    Attributes
    ----------
    group : str
        ``"language/task"``.
    n_shared : int
        Prompts (by id) in both runs.
    pairing : str
        ``"paired"``, ``"independent"`` (stratified) or ``"none"`` (no interval).
    speedup_ratio, acceptance_diff, accepted_length_diff : ContrastEstimate
        The changes, with intervals, p-values against no change and
        Holm-adjusted p-values over the groups.
    """

    group: str
    n_shared: int
    pairing: str
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
class RunComparison:
    """Every group's change, and the mean changes asked for."""

    groups: tuple[GroupComparison, ...]
    means: tuple[MeanChange, ...]
    confidence_level: float
    n_boot: int
    seed: int
    notes: tuple[str, ...]

    def group(self, key: str) -> GroupComparison:
        """Return the group ``"language/task"``; raise ``KeyError`` if absent."""
        for g in self.groups:
            if g.group == key:
                return g
        raise KeyError(key)


def check_same_groups(
    current: MetricsResult, previous: MetricsResult, *, names: tuple[str, str]
) -> None:
    """Refuse two runs whose (language, task) groups differ.

    Parameters
    ----------
    current, previous : MetricsResult
        The two runs.
    names : (str, str)
        How to name them in the message (e.g. their directories).

    Raises
    ------
    UserInputError
        Naming the groups that only one of the runs has.
    """
    only_current, only_previous = current.group_difference(previous)
    if not only_current and not only_previous:
        return
    parts = []
    if only_current:
        parts.append(f"only in {names[0]}: {', '.join(only_current)}")
    if only_previous:
        parts.append(f"only in {names[1]}: {', '.join(only_previous)}")
    raise UserInputError(
        f"cannot compare {names[0]} with {names[1]}: their groups differ "
        f"({'; '.join(parts)}); compare runs over the same languages and tasks"
    )


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
                finite_or_none(est[j]),
                None if low is None else finite_or_none(low[j]),
                None if high is None else finite_or_none(high[j]),
                STATUS_OK
                if low is not None and finite_or_none(low[j]) is not None
                else STATUS_INSUFFICIENT,
                p_value=finite_or_none(p[j]),
                p_adjusted=finite_or_none(p_adj[j]),
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
            before=finite_or_none(estimate[3 * i + 2]),
            after=finite_or_none(estimate[3 * i + 1]),
            ratio=Estimate.of(estimate[3 * i], low[3 * i], high[3 * i]),
        )
        for i, (label, subset) in enumerate(subsets.items())
    )


def run_prompts(run_dir: str | os.PathLike[str], *, gamma: int) -> pd.DataFrame:
    """Read a run's per-prompt table from its ``records.jsonl``, for :func:`compare_runs`.

    ``prompts.csv`` lacks the counts behind the acceptance rate, so the
    table is rebuilt from the records.

    Raises
    ------
    UserInputError
        If the run has no readable ``records.jsonl``.
    """
    path = Path(run_dir) / "records.jsonl"
    if not path.is_file():
        raise UserInputError(
            f"{run_dir} has no records.jsonl: a comparison resamples prompts and needs it"
        )
    try:
        return prompt_frame(load_records(path), gamma=gamma)
    except ValueError as err:
        raise UserInputError(f"cannot read {path}: {err}") from None


def compare_runs(
    current: MetricsResult,
    previous: MetricsResult,
    current_prompts: pd.DataFrame,
    previous_prompts: pd.DataFrame,
    *,
    confidence_level: float | None = None,
    means: Mapping[str, Sequence[str]] | None = None,
) -> RunComparison:
    """Compare two runs over the same groups, paired on their shared prompts.

    Parameters
    ----------
    current, previous : MetricsResult
        The two runs' metrics (after and before a change). Their groups must
        match (see :func:`check_same_groups`); the current run's settings
        (``n_boot``, ``seed``, ``min_prompts``) drive the resampling.
    current_prompts, previous_prompts : pandas.DataFrame
        Their per-prompt tables (:func:`specaudit.metrics.prompt_frame` of
        each run's records).
    confidence_level : float, optional
        Level of the intervals; default the current run's.
    means : mapping of str to list of str, optional
        Labelled subsets of groups whose mean speed-up ratio to estimate.

    Returns
    -------
    RunComparison
    """
    settings = current.settings
    level = settings.confidence_level if confidence_level is None else confidence_level
    gammas = (settings.gamma, previous.settings.gamma)
    designs, notes = {}, []
    for g in current.groups:
        fa = current_prompts[current_prompts["group"] == g.group].reset_index(drop=True)
        fb = previous_prompts[previous_prompts["group"] == g.group].reset_index(drop=True)
        designs[g.group] = _design(fa, fb, gammas, settings.min_prompts)
        if designs[g.group].pairing != "paired":
            notes.append(
                f"{g.group}: {designs[g.group].n_shared} shared prompts (< "
                f"{settings.min_prompts}); {designs[g.group].pairing} resampling"
            )
    rng = np.random.default_rng(settings.seed)
    changes = _group_changes(designs, n_boot=settings.n_boot, rng=rng, level=level)
    mean_changes = (
        _mean_changes(designs, dict(means), n_boot=settings.n_boot, rng=rng, level=level)
        if means
        else ()
    )
    groups = tuple(
        GroupComparison(key, d.n_shared, d.pairing, *changes[key]) for key, d in designs.items()
    )
    return RunComparison(
        groups=groups,
        means=mean_changes,
        confidence_level=level,
        n_boot=settings.n_boot,
        seed=settings.seed,
        notes=tuple(notes),
    )
