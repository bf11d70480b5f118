"""Hand-built metrics results with chosen estimates and intervals, for the gate tests."""

from __future__ import annotations

from pathlib import Path

from specaudit.metrics.result import (
    GROUP_METRICS,
    Contrast,
    ContrastEstimate,
    Disparity,
    Estimate,
    GroupMetrics,
    MetricsResult,
    MetricsSettings,
    TaskDisparity,
)

NONE = Estimate(None, None, None, "insufficient data")


def est(value: float | None, low: float | None = None, high: float | None = None) -> Estimate:
    """An estimate; without bounds it is "insufficient data"."""
    if low is None or high is None:
        return Estimate(value, None, None, "insufficient data")
    return Estimate(value, low, high, "ok")


def cest(
    value: float,
    low: float | None = None,
    high: float | None = None,
    *,
    sim: tuple[float, float] | None = None,
    p_adjusted: float | None = 0.5,
    level: float = 0.99,
) -> ContrastEstimate:
    """A contrast estimate; ``sim`` defaults to the marginal interval widened by 0.05."""
    if low is None or high is None:
        return ContrastEstimate(value, None, None, "insufficient data")
    sim = sim or (low - 0.05, high + 0.05)
    return ContrastEstimate(
        value,
        low,
        high,
        "ok",
        p_value=p_adjusted,
        p_adjusted=p_adjusted,
        sim_ci_low=sim[0],
        sim_ci_high=sim[1],
        simultaneous_level=level,
    )


def group(key: str, *, speedup: Estimate, acceptance: Estimate | None = None, n: int = 30):
    language, task = key.split("/")
    values = dict.fromkeys(GROUP_METRICS, NONE)
    values["speedup"] = speedup
    values["acceptance_rate"] = acceptance or est(0.7, 0.65, 0.75)
    return GroupMetrics(
        language=language,
        task=task,
        n_prompts=n,
        n_steps=10 * n,
        status="ok" if speedup.status == "ok" else "insufficient data",
        position_acceptance=(),
        **values,
    )


def contrast(
    key: str,
    reference: str,
    *,
    ratio: ContrastEstimate,
    diff: ContrastEstimate | None = None,
    n: int = 30,
):
    language, task = key.split("/")
    return Contrast(
        group=key,
        language=language,
        task=task,
        reference=reference,
        n_prompts=n,
        n_reference_prompts=n,
        resampling="cluster",
        n_clusters=n,
        speedup_ratio=ratio,
        acceptance_diff=diff or cest(0.0, -0.05, 0.05),
    )


def result(
    groups: list[GroupMetrics],
    contrasts: list[Contrast] = (),
    *,
    u: Estimate | None = None,
    by_task: dict[str, Estimate] | None = None,
    reference: str = "en",
    notes: tuple[str, ...] = (),
) -> MetricsResult:
    u = u or est(0.01, 0.005, 0.02)
    tasks = by_task or {}
    disparity = Disparity(
        groups=tuple(g.group for g in groups),
        unfairness_u=u,
        speedup_variance=NONE,
        speedup_min_max_ratio=NONE,
        speedup_cv=NONE,
        worst_group=None,
        share_slower=NONE,
        reference=reference,
        contrasts=tuple(contrasts),
        by_task=tuple(
            TaskDisparity(
                task=t,
                groups=tuple(g.group for g in groups if g.task == t),
                unfairness_u=value,
                speedup_variance=NONE,
                speedup_min_max_ratio=NONE,
                speedup_cv=NONE,
                worst_group=None,
                share_slower=NONE,
            )
            for t, value in tasks.items()
        ),
    )
    settings = MetricsSettings(
        reference_language="en",
        reference=None,
        n_boot=2000,
        seed=0,
        min_prompts=10,
        confidence_level=0.95,
        gamma=4,
    )
    return MetricsResult(
        settings=settings,
        n_prompts=sum(g.n_prompts for g in groups),
        groups=tuple(groups),
        disparity=disparity,
        notes=notes,
    )


def two_language_result(
    *,
    ratio: ContrastEstimate,
    sw_speedup: Estimate | None = None,
    diff: ContrastEstimate | None = None,
) -> MetricsResult:
    """en/translation (reference) and sw/translation with the given figures."""
    return result(
        [
            group("en/translation", speedup=est(2.0, 1.9, 2.1)),
            group("sw/translation", speedup=sw_speedup or est(1.6, 1.5, 1.7)),
        ],
        [contrast("sw/translation", "en/translation", ratio=ratio, diff=diff)],
        by_task={"translation": est(0.01, 0.005, 0.02)},
    )


def write_run(root: Path, metrics: MetricsResult, name: str = "run") -> Path:
    run_dir = root / name
    metrics.write(run_dir)
    return run_dir


def write_policy(root: Path, text: str, name: str = "gate.yaml") -> Path:
    path = root / name
    path.write_text(text, encoding="utf-8")
    return path
