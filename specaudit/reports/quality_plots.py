"""The acceptance-against-quality plot of a single-run report, as inline SVG.

One panel per task. Quality is chrF (0-100) for a task whose groups have
references (translation), and the non-degenerate share (0-1) otherwise
(story). A well-served group sits top right; a group top left accepts many
drafts of poor output, the pattern of a looping target. Groups whose
acceptance is inflated by degenerate output
(:func:`~specaudit.reports.quality.inflated_by_degeneracy`) get a hollow
marker and a "!" beside their language code, so the cue is not colour alone.
"""

from __future__ import annotations

from typing import Any

from specaudit.metrics import GroupMetrics, MetricsResult
from specaudit.reports.plots import WIDTH, Plot, plot_style, render_svg, task_styles
from specaudit.reports.quality import inflated_by_degeneracy

__all__ = ["acceptance_quality_plot", "quality_axis"]


def quality_axis(groups: list[GroupMetrics]) -> tuple[str, str]:
    """Choose the quality figure of one task's groups: ``(path, axis label)``.

    chrF where any group has it, else the non-degenerate share.
    """
    if any(g.quality is not None and g.quality.chrf.estimate is not None for g in groups):
        return "chrf", "chrF of the output against the reference (0-100)"
    return "non_degenerate_share", "non-degenerate share of outputs (0-1)"


def _bounds(e: Any) -> tuple[float, float]:
    low = e.estimate - e.ci_low if e.ci_low is not None else 0.0
    high = e.ci_high - e.estimate if e.ci_high is not None else 0.0
    return abs(low), abs(high)


def _panel(ax: Any, groups: list[GroupMetrics], inflated: tuple[str, ...], style: Any) -> None:
    colour, marker = style
    figure, label = quality_axis(groups)
    for g in groups:
        q = getattr(g.quality, figure)
        a = g.acceptance_rate
        if q.estimate is None or a.estimate is None:
            continue
        bad = g.group in inflated
        xl, xh = _bounds(q)
        yl, yh = _bounds(a)
        ax.errorbar(
            [q.estimate],
            [a.estimate],
            xerr=[[xl], [xh]],
            yerr=[[yl], [yh]],
            fmt=marker,
            color=colour,
            ecolor=(*colour, 0.45),
            elinewidth=1.0,
            markersize=7,
            markerfacecolor="white" if bad else colour,
        )
        ax.annotate(
            f"{g.language}{' !' if bad else ''}",
            (q.estimate, a.estimate),
            xytext=(4, 3),
            textcoords="offset points",
            fontsize=8,
            fontweight="bold" if bad else "normal",
        )
    ax.set_xlabel(label)
    ax.set_ylabel("acceptance_rate α")


def acceptance_quality_plot(result: MetricsResult) -> Plot:
    """Plot acceptance rate against output quality per group, one panel per task."""
    from matplotlib.figure import Figure

    title = "Acceptance against output quality"
    caption = (
        "Each point is a group: acceptance_rate α against chrF (tasks with references, such "
        "as translation) or the share of non-degenerate outputs (other tasks, such as story), "
        "with intervals. Top left is the warning sign: many drafts accepted, poor output. "
        "Hollow markers and a '!' mark groups whose acceptance is high because their output "
        "is degenerate."
    )
    groups = [g for g in result.groups if g.quality is not None]
    if not groups:
        return Plot("quality", title, "metrics.json has no quality figures: recompute them.", "")
    tasks = list(dict.fromkeys(g.task for g in groups))
    styles = task_styles(tasks)
    inflated = inflated_by_degeneracy(result)
    with plot_style("quality"):
        fig = Figure(figsize=(WIDTH, 4.2), layout="constrained")
        axes = fig.subplots(1, len(tasks), squeeze=False)[0]
        for ax, task in zip(axes, tasks, strict=True):
            _panel(ax, [g for g in groups if g.task == task], inflated, styles[task])
            ax.set_title(task)
        svg = render_svg(fig, "Acceptance rate against output quality per group and task")
    return Plot("quality", title, caption, svg)
