"""Regression checks against a previous release's run (``--baseline``).

For each group g, the change of speed-up between the baseline run B and the
current run C is the ratio

    r_g = speedup_g(C) / speedup_g(B),

and the check passes when ``r_g >= 1 - max_speedup_drop`` (a drop of at most
that fraction; 1 means no change).

Interval. The two runs are independent samples, so the ratio's interval is
built on the log scale from the two runs' own intervals: each side of each
interval gives a standard error ``|log bound - log estimate| / z`` at its
run's level, and the ratio's lower bound is

    log r - z' * sqrt(se_low(C)^2 + se_high(B)^2)

(the upper bound likewise). This is a normal approximation on the log scale
that keeps the asymmetry of the bootstrap intervals; z' is the current run's
level, or the Bonferroni level ``1 - (1 - level) / m`` over the m compared
groups with ``intervals: simultaneous`` (the default).
"""

from __future__ import annotations

import math

from scipy.stats import norm

from specaudit.errors import UserInputError
from specaudit.gate.checks import Figure, evaluate
from specaudit.gate.policy import BaselineCheck
from specaudit.gate.result import CheckResult, format_number
from specaudit.metrics.result import STATUS_OK, Estimate, MetricsResult

__all__ = ["baseline_rows", "check_same_groups", "speedup_change"]


def check_same_groups(
    current: MetricsResult, baseline: MetricsResult, *, baseline_dir: str = "baseline"
) -> None:
    """Refuse a baseline whose (language, task) groups differ from the run's.

    Raises
    ------
    UserInputError
        Naming the groups only one of the runs has.
    """
    only_now, only_before = current.group_difference(baseline)
    if not only_now and not only_before:
        return
    parts = []
    if only_now:
        parts.append(f"only in this run: {', '.join(only_now)}")
    if only_before:
        parts.append(f"only in the baseline: {', '.join(only_before)}")
    raise UserInputError(
        f"baseline {baseline_dir} has other groups than this run ({'; '.join(parts)}); "
        "compare runs of the same languages and tasks"
    )


def speedup_change(
    current: Estimate,
    baseline: Estimate,
    *,
    current_level: float,
    baseline_level: float,
    level: float,
) -> tuple[float, float, float] | None:
    """Ratio of two independent speed-ups with an approximate interval.

    Parameters
    ----------
    current, baseline : Estimate
        The group's speed-up in each run, with intervals.
    current_level, baseline_level : float
        Levels of those intervals.
    level : float
        Level of the returned interval.

    Returns
    -------
    (estimate, low, high) or None
        ``None`` when either estimate lacks a positive interval.
    """
    parts = []
    for e, lvl in ((current, current_level), (baseline, baseline_level)):
        if e.status != STATUS_OK or e.estimate is None or e.ci_low is None or e.ci_high is None:
            return None
        if min(e.estimate, e.ci_low, e.ci_high) <= 0:
            return None
        z = norm.ppf(0.5 + lvl / 2)
        parts.append(
            (
                math.log(e.estimate),
                (math.log(e.estimate) - math.log(e.ci_low)) / z,
                (math.log(e.ci_high) - math.log(e.estimate)) / z,
            )
        )
    (log_c, low_c, high_c), (log_b, low_b, high_b) = parts
    z_out = norm.ppf(0.5 + level / 2)
    log_r = log_c - log_b
    low = log_r - z_out * math.hypot(low_c, high_b)
    high = log_r + z_out * math.hypot(high_c, low_b)
    return math.exp(log_r), math.exp(low), math.exp(high)


def baseline_rows(
    current: MetricsResult, baseline: MetricsResult, check: BaselineCheck
) -> tuple[CheckResult, ...]:
    """One speed-up regression row per group.

    Parameters
    ----------
    current, baseline : MetricsResult
        Runs with the same groups (see :func:`check_same_groups`).
    check : BaselineCheck
        The resolved baseline section of the policy.

    Returns
    -------
    tuple of CheckResult
        In the current run's group order.
    """
    check_same_groups(current, baseline)
    before = {g.group: g for g in baseline.groups}
    level = current.settings.confidence_level
    comparable = sum(
        g.speedup.status == STATUS_OK and before[g.group].speedup.status == STATUS_OK
        for g in current.groups
    )
    if check.intervals == "simultaneous" and comparable > 1:
        level = 1.0 - (1.0 - level) / comparable
    threshold = 1.0 - check.max_speedup_drop
    rows = []
    for group in current.groups:
        old = before[group.group]
        change = speedup_change(
            group.speedup,
            old.speedup,
            current_level=current.settings.confidence_level,
            baseline_level=baseline.settings.confidence_level,
            level=level,
        )
        quantity = (
            f"speed-up now / in baseline ({format_number(group.speedup.estimate)}x vs "
            f"{format_number(old.speedup.estimate)}x)"
        )
        missing = None
        estimate = low = high = None
        if change is None:
            missing = (
                f"insufficient data: {group.n_prompts} prompts now, {old.n_prompts} in the "
                f"baseline; intervals need {current.settings.min_prompts}"
            )
            if group.speedup.estimate and old.speedup.estimate:
                estimate = group.speedup.estimate / old.speedup.estimate
        else:
            estimate, low, high = change
        figure = Figure(
            subject=group.group,
            quantity=quantity,
            estimate=estimate,
            ci_low=low,
            ci_high=high,
            level=level if change is not None else None,
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
            )
        )
    return tuple(rows)
