"""Evaluate a policy's checks on a metrics result: pure functions, no I/O.

Every check is applied to each of its groups (or to a whole-run figure) and
gives a :class:`~specaudit.gate.result.CheckResult`. The decision compares a
figure with the threshold in one of three modes:

``point``
    The estimate alone decides: pass on the passing side, else fail.
``demonstrated``
    Fail only when the *whole* interval is on the failing side; pass when it
    is wholly on the passing side. A straddling interval is inconclusive and,
    since only a demonstrated failure may stop the release, does not block.
``unproven`` (default)
    Pass only when the whole interval is on the passing side; fail when it
    is wholly on the failing side. A straddling interval is inconclusive and
    blocks: the release waits until a pass is shown.

A figure without an interval ("insufficient data": too few prompts for the
run's ``min_prompts``, or no reference group to contrast with) is
inconclusive in every mode, and blocks: the gate never passes a group it
could not measure.

Intervals. Contrast checks (``min_speedup_ratio``, ``max_acceptance_gap``)
use the run's *simultaneous* intervals by default: Bonferroni intervals at
level ``1 - (1 - confidence_level) / m`` over the m contrasts of the run, so
that the chance of any false "demonstrably below" over all groups stays
within ``1 - confidence_level``. ``intervals: marginal`` uses each
contrast's own interval instead. The Holm-adjusted p-values of the metrics
test *no disparity* (ratio 1, gap 0), not the policy's threshold, so they
cannot decide a check against tau = 0.8; they are shown beside the decision.
``min_speedup``, ``min_speedup_modelled``, ``min_non_degenerate_share`` and
the spread checks (``max_unfairness_u``, ``max_unfairness_u_kl``: U on KL,
the drafter's part of U; ``max_unfairness_u_tv``: U on the total variation)
use the figure's own interval. U and U on KL are inconclusive where the
metrics mark the cross-entropy floor-dominated: gate such drafters on U on TV.

Timing. Checks on measured times (``min_speedup``, ``min_speedup_ratio``)
are inconclusive, and block, when the run's timing health is
``unreliable`` (``metrics.json`` ``timing``): a verdict decided by a
co-tenant's burst is no verdict. ``min_speedup_modelled`` reads the
speed-up the calibrated cost model gives from step counts alone, which no
stall can move, so a policy can gate on it whatever the machine did.

Timing tolerance. A run's interval on a speed-up covers the prompts it
sampled, not the machine: between two runs of the same audit every group's
speed-up moves together by a few percent (the machine's relative costs
shift), which no estimator on one run's timings can see. A group whose
interval ends within that shift of its bar would fail in one run and not in
the next. ``timing_tolerance: t`` on a speed-up check (or in ``defaults``)
widens its interval on the ratio scale, to ``[low / (1 + t), high * (1 + t)]``,
before it is judged: the check then fails only on a speed-up demonstrably
more than that shift below its bar, and passes only one demonstrably above
it. Mode ``point`` has no interval to widen.

``min_non_degenerate_share`` is the gate's word on output quality: a group
whose outputs are mostly degenerate (repetition loops, which inflate
acceptance) does not count as served, however fast it decodes. Metrics
written before quality figures existed make it inconclusive.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from specaudit.gate.policy import SPREAD_METRICS, TIMED_METRICS, Check
from specaudit.gate.result import CheckResult, Outcome, Status, format_number, percent
from specaudit.metrics.result import STATUS_OK, Contrast, ContrastEstimate, MetricsResult

__all__ = ["Figure", "evaluate", "evaluate_checks", "judge"]


@dataclass(frozen=True)
class Figure:
    """A figure to compare with a threshold, with the interval to use.

    Attributes
    ----------
    subject : str
        The group ``"language/task"`` or whole-run label it belongs to.
    quantity : str
        What it is, in words.
    estimate, ci_low, ci_high : float or None
    level : float or None
        Confidence level of the interval.
    interval_kind : str
        ``"simultaneous"`` or ``"marginal"``.
    missing : str or None
        Why the figure cannot be judged (e.g. insufficient data); such a
        figure is inconclusive in every mode.
    p_adjusted : float or None
        Holm-adjusted p-value against no disparity (contrasts only).
    """

    subject: str
    quantity: str
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    level: float | None
    interval_kind: str
    missing: str | None = None
    p_adjusted: float | None = None


def judge(
    estimate: float | None,
    ci_low: float | None,
    ci_high: float | None,
    *,
    threshold: float,
    comparison: str,
    mode: str,
    tolerance: float = 0.0,
) -> Outcome:
    """Compare one figure with a threshold.

    Parameters
    ----------
    estimate, ci_low, ci_high : float or None
        The figure and its interval.
    threshold : float
        The value to compare with.
    comparison : {">=", "<="}
        The side that passes; the threshold itself passes.
    mode : {"point", "demonstrated", "unproven"}
        How the interval is used (see the module docstring).
    tolerance : float, default 0
        Relative run-to-run shift to allow for: the interval modes judge
        ``[ci_low / (1 + tolerance), ci_high * (1 + tolerance)]``, so the
        figure must be positive (a speed-up or a ratio of them).

    Returns
    -------
    Outcome
        ``point``: by the estimate. Interval modes: ``PASS`` when the whole
        interval passes, ``FAIL`` when the whole interval fails,
        ``INCONCLUSIVE`` when it straddles the threshold. Missing numbers
        give ``INCONCLUSIVE``. (The modes differ in whether a straddle
        blocks, see :func:`evaluate`.)
    """
    if comparison not in (">=", "<="):
        raise ValueError(f"comparison={comparison!r} is not allowed: expected '>=' or '<='")
    if mode not in ("point", "demonstrated", "unproven"):
        raise ValueError(
            f"mode={mode!r} is not allowed: expected 'point', 'demonstrated' or 'unproven'"
        )
    if tolerance < 0.0:
        raise ValueError(f"tolerance={tolerance!r} is not allowed: expected a value >= 0")

    def passes(x: float) -> bool:
        return x >= threshold if comparison == ">=" else x <= threshold

    if mode == "point":
        if estimate is None:
            return Outcome.INCONCLUSIVE
        return Outcome.PASS if passes(estimate) else Outcome.FAIL
    if ci_low is None or ci_high is None:
        return Outcome.INCONCLUSIVE
    if tolerance > 0.0:
        if ci_low <= 0.0:
            raise ValueError(f"a timing tolerance needs a positive interval, got ci_low={ci_low!r}")
        ci_low, ci_high = ci_low / (1.0 + tolerance), ci_high * (1.0 + tolerance)
    low_passes, high_passes = passes(ci_low), passes(ci_high)
    if low_passes and high_passes:
        return Outcome.PASS
    if not low_passes and not high_passes:
        return Outcome.FAIL
    return Outcome.INCONCLUSIVE


def evaluate(
    figure: Figure,
    *,
    check: str,
    metric: str,
    threshold: float,
    comparison: str,
    severity: str,
    mode: str,
    tolerance: float = 0.0,
) -> CheckResult:
    """Judge one figure and turn the outcome into a status for the release.

    A fail becomes ``warning`` under ``severity: warning``. An inconclusive
    row blocks (under ``severity: error``) unless it is a straddling
    interval in mode ``demonstrated``. ``tolerance`` is the check's timing
    tolerance (see :func:`judge`); mode ``point`` ignores it.
    """
    wrong = "below" if comparison == ">=" else "above"
    if figure.missing is not None:
        outcome = Outcome.INCONCLUSIVE
        reason = figure.missing
    else:

        def judged(t: float) -> Outcome:
            return judge(
                figure.estimate,
                figure.ci_low,
                figure.ci_high,
                threshold=threshold,
                comparison=comparison,
                mode=mode,
                tolerance=t,
            )

        outcome = judged(tolerance)
        reason = _reason(outcome, mode=mode, wrong=wrong, tolerance=tolerance)
        if outcome is Outcome.INCONCLUSIVE and tolerance > 0.0:
            bare = judged(0.0)
            if bare is not Outcome.INCONCLUSIVE:
                reason = _within_tolerance(bare, wrong=wrong, tolerance=tolerance)
    straddles = figure.missing is None and outcome is Outcome.INCONCLUSIVE and mode != "point"
    if outcome is Outcome.PASS:
        status, blocking = Status.PASS, False
    elif outcome is Outcome.FAIL:
        blocking = severity == "error"
        status = Status.FAIL if blocking else Status.WARNING
    else:
        status = Status.INCONCLUSIVE
        blocking = severity == "error" and not (straddles and mode == "demonstrated")
    if outcome is not Outcome.PASS and severity == "warning":
        reason += "; severity warning, does not block"
    elif straddles:
        reason += (
            "; does not block (mode demonstrated: only a demonstrated failure blocks)"
            if mode == "demonstrated"
            else "; blocks (mode unproven: a pass must be shown)"
        )
    if figure.p_adjusted is not None:
        reason += f" (Holm-adjusted p = {format_number(figure.p_adjusted)} against no disparity)"
    return CheckResult(
        check=check,
        metric=metric,
        subject=figure.subject,
        quantity=figure.quantity,
        estimate=figure.estimate,
        ci_low=figure.ci_low,
        ci_high=figure.ci_high,
        level=figure.level,
        interval_kind=figure.interval_kind,
        threshold=threshold,
        comparison=comparison,
        severity=severity,
        mode=mode,
        outcome=outcome,
        status=status,
        blocking=blocking,
        explanation=reason,
        p_adjusted=figure.p_adjusted,
        tolerance=tolerance if mode != "point" else 0.0,
    )


def _reason(outcome: Outcome, *, mode: str, wrong: str, tolerance: float = 0.0) -> str:
    if mode == "point":
        if outcome is Outcome.INCONCLUSIVE:
            return "no estimate"
        side = "passing side" if outcome is Outcome.PASS else f"failing side ({wrong})"
        return f"the estimate is on the {side}; mode point ignores the interval"
    interval = "interval"
    if tolerance > 0.0:
        interval = f"interval, widened by the {percent(tolerance)} timing tolerance,"
    if outcome is Outcome.PASS:
        return f"the whole {interval} is on the passing side"
    if outcome is Outcome.FAIL:
        return f"the whole {interval} is {wrong} the threshold (demonstrated)"
    return "the interval straddles the threshold: cannot tell with this many prompts"


def _within_tolerance(bare: Outcome, *, wrong: str, tolerance: float) -> str:
    """Say so when only the timing tolerance keeps a figure from a decision."""
    side = "on the passing side" if bare is Outcome.PASS else f"{wrong} the threshold"
    return (
        f"the whole interval is {side}, but within the {percent(tolerance)} timing "
        "tolerance of it: the machine's run-to-run shift could carry it across"
    )


def _insufficient(n: int, min_prompts: int, what: str = "prompts") -> str:
    return f"insufficient data: {n} {what}, intervals need {min_prompts}"


def _contrast_figure(
    contrast: Contrast, *, metric: str, intervals: str, result: MetricsResult
) -> Figure:
    est: ContrastEstimate = (
        contrast.speedup_ratio if metric == "min_speedup_ratio" else contrast.acceptance_diff
    )
    if intervals == "simultaneous":
        low, high, level = est.sim_ci_low, est.sim_ci_high, est.simultaneous_level
    else:
        low, high, level = est.ci_low, est.ci_high, result.settings.confidence_level
    missing = None
    if est.status != STATUS_OK or low is None or high is None:
        n = min(contrast.n_prompts, contrast.n_reference_prompts, contrast.n_clusters or 10**9)
        missing = _insufficient(n, result.settings.min_prompts, "prompts (group or reference)")
    if metric == "min_speedup_ratio":
        quantity = f"speed-up ratio vs {contrast.reference}"
        value = est.estimate
    else:
        # gap = reference - group = -(group - reference): the interval flips.
        quantity = f"acceptance gap ({contrast.reference} minus group)"
        value = None if est.estimate is None else -est.estimate
        low, high = (None if high is None else -high), (None if low is None else -low)
    return Figure(
        subject=contrast.group,
        quantity=quantity,
        estimate=value,
        ci_low=low,
        ci_high=high,
        level=level,
        interval_kind=intervals,
        missing=missing,
        p_adjusted=est.p_adjusted,
    )


def _non_degenerate_figure(result: MetricsResult, key: str) -> Figure:
    group = result.group(key)
    level = result.settings.confidence_level
    if group.quality is None:
        return Figure(
            key,
            "non-degenerate share",
            None,
            None,
            None,
            level,
            "marginal",
            "no quality figures in metrics.json: recompute them with `specaudit metrics`",
        )
    share = group.quality.non_degenerate_share
    missing = None
    if share.status != STATUS_OK:
        missing = _insufficient(group.n_prompts, result.settings.min_prompts)
    return Figure(
        key,
        "non-degenerate share",
        share.estimate,
        share.ci_low,
        share.ci_high,
        level,
        "marginal",
        missing,
    )


#: Per-group speed-up checks: the figure each reads, and its name in reports.
_GROUP_SPEEDUPS = {
    "min_speedup": ("speedup", "speed-up"),
    "min_speedup_modelled": ("speedup_modelled", "modelled speed-up"),
}


def _unreliable_timing(figure: Figure, result: MetricsResult) -> Figure:
    """Make a figure on measured times undecidable when the run's timing is unreliable."""
    timing = result.timing
    reasons = "; ".join(timing.reasons) if timing.reasons else "see metrics.json timing"
    return replace(
        figure,
        missing=(
            f"timing unreliable ({reasons}): re-run on a quieter machine, with --repeats, "
            "or gate on min_speedup_modelled"
        ),
    )


def _figures(check: Check, result: MetricsResult) -> list[Figure]:
    figures = _figures_of(check, result)
    if check.metric in TIMED_METRICS and result.timing and result.timing.verdict == "unreliable":
        figures = [_unreliable_timing(f, result) for f in figures]
    return figures


#: Spread checks: the Disparity field each reads and its name in words.
_SPREADS = {
    "max_unfairness_u": ("unfairness_u", "unfairness U"),
    "max_unfairness_u_kl": ("unfairness_u_kl", "U on KL"),
    "max_unfairness_u_tv": ("unfairness_u_tv", "U on total variation"),
}


def _spread_figures(check: Check, result: MetricsResult) -> list[Figure]:
    """U, U_KL or U_TV of all groups, or of each selected task.

    U and U_KL are inconclusive where the cross-entropy is floor-dominated
    (``docs/method.md#floor``): they then measure the log-q floor, not the
    drafter, and only U_TV can decide.
    """
    name, words = _SPREADS[check.metric]
    scopes = [("all groups", result.disparity)]
    if check.tasks is not None:
        by_task = {t.task: t for t in result.disparity.by_task}
        scopes = [(f"task {t}", by_task[t]) for t in check.tasks]
    figures = []
    for subject, scope in scopes:
        u = getattr(scope, name)
        missing = None
        if name != "unfairness_u_tv" and scope.floor_dominated:
            missing = (
                f"{words} is floor-dominated (the drafter gives probability 0 to tokens the "
                f"target rates in {', '.join(scope.floor_dominated)}): gate on max_unfairness_u_tv"
            )
        elif u.status != STATUS_OK:
            missing = f"insufficient data: {words} needs two or more groups with enough prompts"
            if u.estimate is None and len(scope.groups) >= 2:
                missing = f"metrics.json has no {words}: recompute it with `specaudit metrics`"
        figures.append(
            Figure(
                subject=subject,
                quantity=words,
                estimate=u.estimate,
                ci_low=u.ci_low,
                ci_high=u.ci_high,
                level=result.settings.confidence_level,
                interval_kind="marginal",
                missing=missing,
            )
        )
    return figures


def _figures_of(check: Check, result: MetricsResult) -> list[Figure]:
    level = result.settings.confidence_level
    if check.metric in SPREAD_METRICS:
        return _spread_figures(check, result)
    if check.metric == "min_non_degenerate_share":
        return [_non_degenerate_figure(result, key) for key in check.groups]
    if check.metric in _GROUP_SPEEDUPS:
        attribute, quantity = _GROUP_SPEEDUPS[check.metric]
        figures = []
        for key in check.groups:
            group = result.group(key)
            s = getattr(group, attribute)
            missing = None
            if s.status != STATUS_OK:
                missing = _insufficient(group.n_prompts, result.settings.min_prompts)
            figures.append(
                Figure(key, quantity, s.estimate, s.ci_low, s.ci_high, level, "marginal", missing)
            )
        return figures
    contrasts = {c.group: c for c in result.disparity.contrasts}
    figures = []
    for key in check.groups:
        if key in contrasts:
            figures.append(
                _contrast_figure(
                    contrasts[key], metric=check.metric, intervals=check.intervals, result=result
                )
            )
            continue
        task = result.group(key).task
        figures.append(
            Figure(
                subject=key,
                quantity="contrast with the reference",
                estimate=None,
                ci_low=None,
                ci_high=None,
                level=None,
                interval_kind=check.intervals,
                missing=(
                    f"no contrast: the run has no reference group for task {task!r} "
                    f"(reference {result.disparity.reference!r})"
                ),
            )
        )
    return figures


def evaluate_checks(checks: tuple[Check, ...], result: MetricsResult) -> tuple[CheckResult, ...]:
    """Apply resolved checks to a metrics result.

    Parameters
    ----------
    checks : tuple of Check
        From :func:`~specaudit.gate.policy.resolve_policy` on the same result.
    result : MetricsResult
        The run's metrics.

    Returns
    -------
    tuple of CheckResult
        One per check and group (one per check and scope for the spread
        checks), in check order.
    """
    rows = []
    for check in checks:
        comparison = ">=" if check.metric.startswith("min_") else "<="
        for figure in _figures(check, result):
            rows.append(
                evaluate(
                    figure,
                    check=check.name,
                    metric=check.metric,
                    threshold=check.threshold,
                    comparison=comparison,
                    severity=check.severity,
                    mode=check.mode,
                    tolerance=check.timing_tolerance,
                )
            )
    return tuple(rows)
