"""The figures of a single-run report, as inline SVG.

Each plot is a pure function of a :class:`~specaudit.metrics.MetricsResult`
returning a :class:`Plot` whose ``svg`` is ready to inline in HTML. seaborn
and matplotlib are imported inside the functions (never at module import),
and no pyplot state is touched: each figure is a bare
``matplotlib.figure.Figure``.

Design choices, shared with :mod:`specaudit.reports.compare_plots`:

- seaborn's ``colorblind`` palette for tasks, and a marker shape per task as
  well, so that colour is never the only cue; heatmaps use ``cividis`` and
  print their values;
- SVG text stays text (``svg.fonttype: none``): small files, selectable;
- ids inside each SVG are salted with the plot's key (``svg.hashsalt``), so
  several inline SVGs in one page never share an id, and output is
  deterministic;
- every interval is drawn as a bar, and speed-up axes have a line at 1.0
  (plain decoding).
"""

from __future__ import annotations

import html
import io
import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from specaudit.metrics import Estimate, MetricsResult
from specaudit.reports.formatting import language_name

__all__ = [
    "MARKERS",
    "Plot",
    "acceptance_plot",
    "analytic_plot",
    "distribution_plot",
    "plot_style",
    "position_plot",
    "render_svg",
    "run_plots",
    "speedup_plot",
    "task_styles",
    "tokenization_plot",
]

#: One marker shape per task (cycled), beside the task's colour.
MARKERS: tuple[str, ...] = ("o", "s", "D", "^", "v", "P", "X", "*")

WIDTH = 8.0  # inches; at 100% of a laptop-width column, 10 pt text reads at ~15 px


@dataclass(frozen=True)
class Plot:
    """One figure of a report.

    Attributes
    ----------
    key : str
        Stable identifier (HTML id, ``data-plot`` attribute).
    title, caption : str
        Heading and one-paragraph reading guide.
    svg : str
        The inline ``<svg>`` element ("" when the data are missing).
    """

    key: str
    title: str
    caption: str
    svg: str


@contextmanager
def plot_style(key: str) -> Iterator[None]:
    """Apply seaborn's whitegrid look and the SVG settings to one figure."""
    import matplotlib as mpl
    import seaborn as sns

    rc = {
        "svg.fonttype": "none",
        "svg.hashsalt": f"specaudit-{key}",
        "text.parse_math": False,  # group names with "$" stay literal
        "font.size": 10,
        "axes.titlesize": 11,
    }
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=0.85):
        with mpl.rc_context(rc):
            yield


def render_svg(fig: Any, alt: str) -> str:
    """Serialise a figure to an inline ``<svg>`` element with an accessible label."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": "specaudit"})
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    # The RDF metadata block (title, date, creator) only adds bytes to an inline figure.
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, count=1, flags=re.DOTALL)
    return text.replace("<svg ", f'<svg role="img" aria-label="{html.escape(alt)}" ', 1)


def task_styles(tasks: Sequence[str]) -> dict[str, tuple[Any, str]]:
    """Colour and marker of each task."""
    import seaborn as sns

    colours = sns.color_palette("colorblind", max(len(tasks), 1))
    return {t: (colours[i], MARKERS[i % len(MARKERS)]) for i, t in enumerate(tasks)}


def _figure(height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(WIDTH, height), layout="constrained")


def _legend(fig: Any, ax: Any, title: str = "task") -> None:
    """One legend row above the axes, outside the data."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(
            handles,
            labels,
            title=title,
            loc="outside upper center",
            ncols=min(len(labels), 6),
            frameon=False,
        )


def _tasks(result: MetricsResult) -> list[str]:
    return list(dict.fromkeys(g.task for g in result.groups))


def _err(estimates: Sequence[Estimate]) -> np.ndarray:
    """(2, n) distances to the interval bounds (0 where there is no interval)."""
    lo = [e.estimate - e.ci_low if e.ci_low is not None else 0.0 for e in estimates]
    hi = [e.ci_high - e.estimate if e.ci_high is not None else 0.0 for e in estimates]
    return np.abs(np.array([lo, hi], dtype=float))


def _reference_language(result: MetricsResult) -> str:
    return result.disparity.reference.split("/")[0]


def _dot_interval(result: MetricsResult, metric: str, xlabel: str, line: float | None) -> Any:
    """Languages down the y axis (worst at the top), one dodged point per task."""
    groups = [g for g in result.groups if getattr(g, metric).estimate is not None]
    tasks = _tasks(result)
    styles = task_styles(tasks)
    by_language: dict[str, list[float]] = {}
    for g in groups:
        by_language.setdefault(g.language, []).append(getattr(g, metric).estimate)
    languages = sorted(by_language, key=lambda lang: np.mean(by_language[lang]))
    ref = _reference_language(result)
    fig = _figure(1.3 + 0.42 * max(len(languages), 1))
    ax = fig.subplots()
    step = 0.6 / max(len(tasks), 1)
    for j, task in enumerate(tasks):
        members = [g for g in groups if g.task == task]
        if not members:
            continue
        y = [languages.index(g.language) + (j - (len(tasks) - 1) / 2) * step for g in members]
        est = [getattr(g, metric) for g in members]
        colour, marker = styles[task]
        ax.errorbar(
            [e.estimate for e in est],
            y,
            xerr=_err(est),
            fmt=marker,
            color=colour,
            ecolor=colour,
            elinewidth=1.6,
            capsize=3,
            markersize=6,
            label=task,
        )
    if line is not None:
        ax.axvline(line, color="0.25", linestyle="--", linewidth=1.2)
        xlabel += f"; dashed line: {line:g} = plain decoding"
    ax.set_yticks(range(len(languages)))
    ax.set_yticklabels(
        [f"{'★ ' if lang == ref else ''}{language_name(lang)} ({lang})" for lang in languages]
    )
    # Worst at the top; a plot with no rows keeps a unit-high empty axis.
    ax.set_ylim(max(len(languages), 1) - 0.5, -0.5)
    ax.set_xlabel(xlabel)
    _legend(fig, ax)
    return fig, languages


def speedup_plot(result: MetricsResult) -> Plot:
    """Measured speed-up per language and task, with intervals and a line at 1.0."""
    with plot_style("speedup"):
        fig, languages = _dot_interval(
            result, "speedup", "speed-up (plain time / speculative time)", 1.0
        )
        alt = "Speed-up by language and task; worst first: " + ", ".join(languages[:3])
        svg = render_svg(fig, alt)
    return Plot(
        "speedup",
        "Speed-up by language and task",
        "Each point is a group's measured speed-up with its confidence interval; languages are "
        "sorted worst first, ★ marks the reference. Left of the dashed line, speculative "
        "decoding is slower than plain decoding.",
        svg,
    )


def acceptance_plot(result: MetricsResult) -> Plot:
    """acceptance_rate per language (and task), with intervals."""
    with plot_style("acceptance"):
        fig, _ = _dot_interval(
            result, "acceptance_rate", "acceptance_rate α (Leviathan estimate)", None
        )
        fig.axes[0].set_xlim(left=max(0.0, fig.axes[0].get_xlim()[0]))
        svg = render_svg(fig, "Acceptance rate by language and task")
    return Plot(
        "acceptance",
        "Acceptance rate by language",
        "acceptance_rate α per group with its interval, lowest first: the share of verified "
        "drafts the target accepted.",
        svg,
    )


def position_plot(result: MetricsResult) -> Plot:
    """Plot acceptance at each draft position as an annotated heatmap (group × position)."""
    import pandas as pd
    import seaborn as sns

    groups = [g for g in result.groups if g.position_acceptance]
    gamma = max((len(g.position_acceptance) for g in groups), default=0)
    table = pd.DataFrame(
        [
            [
                g.position_acceptance[i].estimate if i < len(g.position_acceptance) else None
                for i in range(gamma)
            ]
            for g in groups
        ],
        index=[f"{language_name(g.language)} · {g.task}" for g in groups],
        columns=[f"draft {i + 1}" for i in range(gamma)],
        dtype=float,
    )
    with plot_style("position"):
        fig = _figure(1.4 + 0.3 * max(len(groups), 1))
        ax = fig.subplots()
        if len(table):
            sns.heatmap(
                table,
                ax=ax,
                annot=True,
                fmt=".2f",
                cmap="cividis",
                vmin=0.0,
                vmax=1.0,
                linewidths=0.5,
                annot_kws={"fontweight": "bold"},
                cbar_kws={"label": "P(draft i accepted | verified)"},
            )
        ax.set_xlabel("draft position")
        ax.set_ylabel("")
        svg = render_svg(fig, "Acceptance by draft position for each group")
    return Plot(
        "position",
        "Acceptance by draft position",
        "position_acceptance[i]: the chance that draft i is accepted once the target verifies "
        "it. Values are printed in each cell; lighter is higher. Blank cells were never verified.",
        svg,
    )


def _scatter(
    result: MetricsResult, x: str, y: str, *, xlabel: str, ylabel: str, diagonal: bool
) -> Any:
    groups = [
        g
        for g in result.groups
        if getattr(g, x).estimate is not None and getattr(g, y).estimate is not None
    ]
    styles = task_styles(_tasks(result))
    fig = _figure(5.4)
    ax = fig.subplots()
    for task, (colour, marker) in styles.items():
        members = [g for g in groups if g.task == task]
        if not members:
            continue
        xs = [getattr(g, x) for g in members]
        ys = [getattr(g, y) for g in members]
        ax.errorbar(
            [e.estimate for e in xs],
            [e.estimate for e in ys],
            xerr=_err(xs),
            yerr=_err(ys),
            fmt=marker,
            color=colour,
            ecolor=(*colour, 0.45),
            elinewidth=1.0,
            markersize=6,
            label=task,
        )
        for g, ex, ey in zip(members, xs, ys, strict=True):
            ax.annotate(
                g.language,
                (ex.estimate, ey.estimate),
                xytext=(4, 3),
                textcoords="offset points",
                fontsize=8,
            )
    if diagonal and groups:
        values = [getattr(g, a).estimate for g in groups for a in (x, y)]
        lo, hi = min(values), max(values)
        pad = 0.05 * (hi - lo or 1.0)
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "--", color="0.4", linewidth=1)
        ax.axhline(1.0, color="0.6", linewidth=0.8, linestyle=":")
        ax.axvline(1.0, color="0.6", linewidth=0.8, linestyle=":")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if groups:
        _legend(fig, ax)
    return fig


def analytic_plot(result: MetricsResult) -> Plot:
    """Measured against analytic speed-up per group; the dashed line is equality."""
    with plot_style("analytic"):
        fig = _scatter(
            result,
            "analytic_speedup",
            "speedup",
            xlabel="analytic speed-up f_γ(α) / (1 + γc)",
            ylabel="measured speed-up",
            diagonal=True,
        )
        svg = render_svg(fig, "Measured against analytic speed-up per group")
    return Plot(
        "analytic",
        "Measured vs analytic speed-up",
        "Each group's measured speed-up against the speed-up the acceptance rate and the "
        "forward-cost ratio c predict. The analytic figure is an idealised bound: it prices a "
        "verify forward of γ + 1 tokens like a one-token forward and ignores each step's "
        "fixed overhead and the prefill, so points sit below the dashed line; the cost-model "
        "speed-up in the table prices all of these. Dotted lines mark 1.0.",
        svg,
    )


def tokenization_plot(result: MetricsResult) -> Plot:
    """acceptance_rate against tokens per character per group."""
    with plot_style("tokenization"):
        fig = _scatter(
            result,
            "tokens_per_char",
            "acceptance_rate",
            xlabel="tokens per character",
            ylabel="acceptance_rate α",
            diagonal=False,
        )
        svg = render_svg(fig, "Acceptance rate against tokens per character per group")
    return Plot(
        "tokenization",
        "Acceptance against tokens per character",
        "Languages the tokenizer splits into more tokens per character sit further right; a "
        "downward trend means the drafter serves them worse.",
        svg,
    )


def distribution_plot(result: MetricsResult) -> Plot:
    """Per-prompt speed-ups of each group: box plot with every prompt as a dot."""
    import seaborn as sns

    title = "Distribution of per-prompt speed-ups"
    prompts = result.prompts
    if prompts is None or not {"group", "task", "speedup"} <= set(prompts.columns):
        return Plot("distribution", title, "prompts.csv is missing: no per-prompt figures.", "")
    data = prompts[["group", "task", "speedup"]].copy()
    data = data[np.isfinite(data["speedup"].to_numpy(float))]
    order = list(data.groupby("group")["speedup"].median().sort_values().index)
    tasks = _tasks(result)
    styles = task_styles(tasks)
    palette = {t: styles[t][0] for t in tasks}
    with plot_style("distribution"):
        fig = _figure(1.3 + 0.3 * max(len(order), 1))
        ax = fig.subplots()
        if len(data):
            with warnings.catch_warnings():
                # seaborn 0.13 passes matplotlib 3.11's deprecated ``vert``; not ours to fix.
                warnings.filterwarnings("ignore", message=".*vert: bool was deprecated")
                sns.boxplot(
                    data=data,
                    x="speedup",
                    y="group",
                    hue="task",
                    order=order,
                    hue_order=tasks,
                    palette=palette,
                    dodge=False,
                    showfliers=False,
                    width=0.6,
                    ax=ax,
                    boxprops={"alpha": 0.45},
                )
            sns.stripplot(
                data=data,
                x="speedup",
                y="group",
                order=order,
                color="0.15",
                size=2.5,
                jitter=0.2,
                ax=ax,
            )
            if ax.get_legend() is not None:
                sns.move_legend(
                    ax, "lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(tasks), frameon=False
                )
        ax.axvline(1.0, color="0.25", linestyle="--", linewidth=1.2)
        ax.set_xlabel(
            "per-prompt speed-up (plain time / speculative time); dashed line: 1 = plain decoding"
        )
        ax.set_ylabel("")
        svg = render_svg(fig, "Per-prompt speed-ups of each group, lowest median first")
    return Plot(
        "distribution",
        title,
        "Every dot is one prompt; boxes span the middle half, the line inside is the median. "
        "Dots left of the dashed line ran slower than plain decoding.",
        svg,
    )


def run_plots(result: MetricsResult) -> tuple[Plot, ...]:
    """All figures of a single-run report, in report order."""
    return (
        speedup_plot(result),
        acceptance_plot(result),
        position_plot(result),
        analytic_plot(result),
        tokenization_plot(result),
        distribution_plot(result),
    )
