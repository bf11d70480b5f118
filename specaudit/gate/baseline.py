"""Regression checks against a previous release's run (``--baseline``).

For each group g, the change of speed-up between the previous run P and the
current run C is the ratio

    r_g = speedup_g(C) / speedup_g(P),

and the check passes when ``r_g >= 1 - max_speedup_drop`` (a drop of at most
that fraction; 1 means no change).

Interval. The ratio and its interval come from
:func:`specaudit.metrics.compare.compare_runs`, the same comparison the
before/after report shows: a bootstrap over prompts, paired where the two
runs share prompt ids and stratified by group otherwise. Its level is the
current run's, or the Bonferroni level ``1 - (1 - level) / m`` over the m
compared groups with ``intervals: simultaneous`` (the default). The policy's
``timing_tolerance`` widens it as for the speed-up checks: two runs are two
states of the machine, so the run-to-run shift enters this ratio whole.
"""

from __future__ import annotations

import pandas as pd

from specaudit.gate.checks import Figure, evaluate
from specaudit.gate.policy import BaselineCheck
from specaudit.gate.result import CheckResult, format_number
from specaudit.metrics.compare import check_same_groups, compare_runs
from specaudit.metrics.estimate import STATUS_OK
from specaudit.metrics.result import MetricsResult

__all__ = ["baseline_rows"]


def baseline_rows(
    current: MetricsResult,
    previous: MetricsResult,
    check: BaselineCheck,
    prompts: tuple[pd.DataFrame, pd.DataFrame],
    *,
    names: tuple[str, str] = ("this run", "the baseline"),
) -> tuple[CheckResult, ...]:
    """One speed-up regression row per group.

    Parameters
    ----------
    current, previous : MetricsResult
        The run and a previous release's run, with the same groups.
    check : BaselineCheck
        The resolved baseline section of the policy.
    prompts : (DataFrame, DataFrame)
        The two runs' per-prompt tables
        (:func:`specaudit.metrics.compare.run_prompts`).
    names : (str, str)
        How to name the runs if their groups differ.

    Returns
    -------
    tuple of CheckResult
        In the current run's group order.
    """
    check_same_groups(current, previous, names=names)
    before = {g.group: g for g in previous.groups}
    level = current.settings.confidence_level
    comparable = sum(
        g.speedup.status == STATUS_OK and before[g.group].speedup.status == STATUS_OK
        for g in current.groups
    )
    if check.intervals == "simultaneous" and comparable > 1:
        level = 1.0 - (1.0 - level) / comparable
    comparison = compare_runs(current, previous, *prompts, confidence_level=level)
    threshold = 1.0 - check.max_speedup_drop
    rows = []
    for group in current.groups:
        old = before[group.group]
        ratio = comparison.group(group.group).speedup_ratio
        quantity = (
            f"speed-up now / in baseline ({format_number(group.speedup.estimate)}x vs "
            f"{format_number(old.speedup.estimate)}x)"
        )
        missing = None
        if ratio.status != STATUS_OK:
            missing = (
                f"insufficient data: {group.n_prompts} prompts now, {old.n_prompts} in the "
                f"baseline; intervals need {current.settings.min_prompts}"
            )
        figure = Figure(
            subject=group.group,
            quantity=quantity,
            estimate=ratio.estimate,
            ci_low=ratio.ci_low,
            ci_high=ratio.ci_high,
            level=level if missing is None else None,
            interval_kind=check.intervals,
            missing=missing,
        )
        rows.append(
            evaluate(
                figure,
                check=check.name,
                metric="max_speedup_drop",
                threshold=threshold,
                comparison=">=",
                severity=check.severity,
                mode=check.mode,
                tolerance=check.timing_tolerance,
            )
        )
    return tuple(rows)
