"""The figures of a before/after report: dumbbells per group and the paired changes.

Same conventions as :mod:`specaudit.reports.plots` (colour-blind palette with
a distinct marker for each run, SVG text as text, salted ids, seaborn and
matplotlib imported inside the functions).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from specaudit.metrics import Estimate
from specaudit.reports.compare import Comparison, GroupChange
from specaudit.reports.plots import Plot, plot_style, render_svg

__all__ = ["change_plot", "comparison_plots", "dumbbell_plot"]

WIDTH = 8.0


def _figure(n_rows: int) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(WIDTH, 1.4 + 0.3 * max(n_rows, 1)), layout="constrained")


def _bounds(e: Estimate) -> tuple[float, float] | None:
    if e.estimate is None or e.ci_low is None or e.ci_high is None:
        return None
    return e.ci_low, e.ci_high


def dumbbell_plot(
    comparison: Comparison, metric: str, *, title: str, label: str, line: float | None
) -> Plot:
    """One row per group: the before and after estimate joined by a bar, with intervals.

    Parameters
    ----------
    comparison : Comparison
        The two runs compared.
    metric : str
        ``"speedup"`` or ``"acceptance_rate"`` (each run's own estimate).
    title, label : str
        Heading and axis label.
    line : float, optional
        A reference line (1.0 for speed-ups).
    """
    import seaborn as sns

    before_colour, after_colour = sns.color_palette("colorblind", 2)
    rows = sorted(
        (g for g in comparison.groups if g.before[metric].estimate is not None),
        key=lambda g: g.after[metric].estimate or 0.0,
    )
    key = f"dumbbell-{metric}"
    with plot_style(key):
        fig = _figure(len(rows))
        ax = fig.subplots()
        for y, g in enumerate(rows):
            b, a = g.before[metric], g.after[metric]
            if a.estimate is not None:
                ax.plot([b.estimate, a.estimate], [y, y], color="0.55", linewidth=2.5, zorder=1)
            for e, colour, dy in ((b, before_colour, -0.14), (a, after_colour, 0.14)):
                bounds = _bounds(e)
                if bounds is not None:
                    ax.plot(bounds, [y + dy, y + dy], color=colour, linewidth=1.2, alpha=0.8)
        ax.scatter(
            [g.before[metric].estimate for g in rows],
            range(len(rows)),
            color=before_colour,
            marker="o",
            s=36,
            zorder=3,
            label="before",
        )
        after = [(y, g.after[metric].estimate) for y, g in enumerate(rows)]
        after = [(y, x) for y, x in after if x is not None]
        ax.scatter(
            [x for _, x in after],
            [y for y, _ in after],
            color=after_colour,
            marker="D",
            s=36,
            zorder=3,
            label="after",
        )
        if line is not None:
            ax.axvline(line, color="0.25", linestyle="--", linewidth=1.2)
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels([g.group for g in rows])
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.set_xlabel(label)
        fig.legend(loc="outside upper center", ncols=2, frameon=False)
        svg = render_svg(fig, f"{label} of each group before (circle) and after (diamond)")
    return Plot(
        key,
        title,
        "Each row is a group: the circle is the before run, the diamond the after run, with "
        "thin bars for each run's interval; lowest after-value first."
        + (" The dashed line is plain decoding (1.0)." if line is not None else ""),
        svg,
    )


def change_plot(comparison: Comparison) -> Plot:
    """Paired speed-up ratio (after / before) per group, with its interval and a line at 1."""
    import seaborn as sns

    colour = sns.color_palette("colorblind", 3)[2]
    rows: Sequence[GroupChange] = sorted(
        (g for g in comparison.groups if g.speedup_ratio.estimate is not None),
        key=lambda g: g.speedup_ratio.estimate,
    )
    with plot_style("change"):
        fig = _figure(len(rows))
        ax = fig.subplots()
        for y, g in enumerate(rows):
            r = g.speedup_ratio
            bounds = _bounds(r)
            if bounds is not None:
                ax.plot(bounds, [y, y], color=colour, linewidth=2.0)
            ax.plot([r.estimate], [y], marker="s" if g.pairing == "paired" else "^", color=colour)
        ax.axvline(1.0, color="0.25", linestyle="--", linewidth=1.2)
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels([f"{g.group} ({g.pairing})" for g in rows])
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.set_xlabel("speed-up after / speed-up before")
        svg = render_svg(fig, "Paired change of each group's speed-up, with intervals")
    return Plot(
        "change",
        "Change of speed-up per group (paired)",
        "The ratio of each group's speed-up after to before on the prompts both runs share, "
        "with its paired interval. Right of the dashed line the group got faster.",
        svg,
    )


def comparison_plots(comparison: Comparison) -> tuple[Plot, ...]:
    """All figures of a before/after report, in report order."""
    return (
        dumbbell_plot(
            comparison, "speedup", title="Speed-up before and after", label="speed-up", line=1.0
        ),
        dumbbell_plot(
            comparison,
            "acceptance_rate",
            title="Acceptance rate before and after",
            label="acceptance_rate α",
            line=None,
        ),
        change_plot(comparison),
    )
