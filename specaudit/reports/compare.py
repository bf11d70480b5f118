"""Before/after comparison of two runs over the same groups, paired on shared prompts.

The typical use is a mitigation: the *before* run audits the original
drafter, the *after* run the retrained one, on the same prompts.

The statistics are :func:`specaudit.metrics.compare.compare_runs`, the one
comparison of two runs that the gate's check against a previous release uses
too (paired on shared prompt ids, stratified otherwise); this module adds
each run's own figures and the subsets the report shows: all groups, the
best-served groups (the top quarter by speed-up before, at least one) and
each task. U, the min/max ratio and the worst group are shown for each run
with that run's own intervals.

Per-prompt tables are rebuilt from each run's ``records.jsonl``
(:func:`specaudit.metrics.compare.run_prompts`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from specaudit.metrics import ContrastEstimate, Estimate
from specaudit.metrics.compare import CHANGE_FIGURES, MeanChange, check_same_groups, run_prompts
from specaudit.metrics.compare import compare_runs as compare_prompts
from specaudit.reports.rundata import RunData

__all__ = [
    "CHANGE_FIGURES",
    "Comparison",
    "GroupChange",
    "MeanChange",
    "compare_runs",
]


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
    check_same_groups(after.result, before.result, names=(str(after.run_dir), str(before.run_dir)))
    ranked = sorted(
        (g for g in before.result.groups if g.speedup.estimate is not None),
        key=lambda g: -g.speedup.estimate,
    )
    keys = [g.group for g in after.result.groups]
    best = [g.group for g in ranked[: max(1, math.ceil(len(ranked) / 4))]] or keys
    tasks = list(dict.fromkeys(g.task for g in after.result.groups))
    means = {
        "mean speed-up, all groups": keys,
        "mean speed-up, best-served groups": best,
        **{
            f"mean speed-up, {task}": [g.group for g in after.result.groups if g.task == task]
            for task in tasks
        },
    }
    paired = compare_prompts(
        after.result,
        before.result,
        run_prompts(after.run_dir, gamma=after.result.settings.gamma),
        run_prompts(before.run_dir, gamma=before.result.settings.gamma),
        means=means,
    )
    mean_all, mean_best, *by_task = paired.means
    groups = tuple(
        GroupChange(
            group=g.group,
            language=g.language,
            task=g.task,
            n_before=before.result.group(g.group).n_prompts,
            n_after=g.n_prompts,
            n_shared=paired.group(g.group).n_shared,
            pairing=paired.group(g.group).pairing,
            before=_figures_of(before, g.group),
            after=_figures_of(after, g.group),
            speedup_ratio=paired.group(g.group).speedup_ratio,
            acceptance_diff=paired.group(g.group).acceptance_diff,
            accepted_length_diff=paired.group(g.group).accepted_length_diff,
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
        confidence_level=paired.confidence_level,
        n_boot=paired.n_boot,
        seed=paired.seed,
        notes=paired.notes,
    )
