"""Curves of a drafter retraining, from the ``training.csv`` that mitigation writes.

One row per probe evaluation: ``step``, ``unfairness_u``, ``unfairness_u_kl``,
``mean_alpha`` and per group ``cross_entropy_<g>``, ``kl_<g>``, ``alpha_<g>``,
``weight_<g>``. The report only reads the file.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from specaudit.errors import UserInputError
from specaudit.reports.plots import Plot, plot_style, render_svg

__all__ = ["read_training_log", "training_plots"]

WIDTH = 8.0


def read_training_log(path: str | Path) -> pd.DataFrame:
    """Read ``training.csv``; a missing column or file is a one-line error."""
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as err:
        raise UserInputError(f"cannot read training log {path}: {err}") from None
    missing = {"step", "unfairness_u", "unfairness_u_kl"} - set(frame.columns)
    if missing or frame.empty:
        raise UserInputError(f"training log {path} lacks {sorted(missing) or 'rows'}")
    return frame


def _groups(frame: pd.DataFrame, prefix: str) -> list[str]:
    return [c.removeprefix(prefix) for c in frame.columns if c.startswith(prefix)]


def _per_group(
    frame: pd.DataFrame, prefix: str, key: str, title: str, ylabel: str, caption: str
) -> Plot:
    import seaborn as sns
    from matplotlib.figure import Figure

    groups = _groups(frame, prefix)
    with plot_style(key):
        fig = Figure(figsize=(WIDTH, 3.4), layout="constrained")
        ax = fig.add_subplot()
        colours = sns.color_palette("colorblind", len(groups))
        for i, g in enumerate(groups):
            ax.plot(
                frame["step"],
                frame[prefix + g],
                color=colours[i % len(colours)],
                marker="osD^v<>"[i % 7],
                markersize=3,
                linewidth=1.2,
                label=g,
            )
        ax.set_xlabel("training step")
        ax.set_ylabel(ylabel)
        ax.legend(ncols=min(len(groups), 6), fontsize=8, loc="best")
        svg = render_svg(fig, title)
    return Plot(key, title, caption, svg)


def _unfairness(frame: pd.DataFrame, best_step: int | None) -> Plot:
    from matplotlib.figure import Figure

    title = "Unfairness on the probe set during training"
    with plot_style("training-u"):
        fig = Figure(figsize=(WIDTH, 3.0), layout="constrained")
        left, right = fig.subplots(1, 2)
        left.plot(frame["step"], frame["unfairness_u"], marker="o", markersize=3)
        left.set_title("U on cross-entropy D (paper)")
        right.plot(frame["step"], frame["unfairness_u_kl"], marker="s", markersize=3, color="C1")
        right.set_title("U on KL (target entropy removed)")
        for ax in (left, right):
            ax.set_xlabel("training step")
            if best_step is not None:
                ax.axvline(best_step, color="0.4", linestyle=":", linewidth=1)
        svg = render_svg(fig, title)
    caption = (
        "Variance across groups of the drafter's cross-entropy to the target (left) and of "
        "KL(p‖q) (right), on probe prompts held back from the train split. D = H(p) + KL: "
        "the target's own entropy H(p) differs by language and no drafter can change it, so "
        "U on D cannot fall below the variance of H(p). The dotted line marks the kept weights."
    )
    return Plot("training-u", title, caption, svg)


def training_plots(frame: pd.DataFrame, *, best_step: int | None = None) -> tuple[Plot, ...]:
    """U, per-group α and per-group weights over training steps."""
    plots = [
        _unfairness(frame, best_step),
        _per_group(
            frame,
            "alpha_",
            "training-alpha",
            "Distributional acceptance per group",
            "α = Σ min(p, q)",
            "Expected acceptance of one draft token on the probe set, per group.",
        ),
    ]
    weights = frame[[c for c in frame.columns if c.startswith("weight_")]]
    if (weights.max(axis=1) - weights.min(axis=1)).max() > 0:  # not uniform: s-CDF
        plots.append(
            _per_group(
                frame,
                "weight_",
                "training-weights",
                "Group weights over training",
                "w_i",
                "s-CDF's shift-by-minimum weights w_i = D_i − min_j D_j (normalised), on the "
                "divergence it weights by (KL by default, or cross-entropy): the "
                "best-fit group gets 0, the worst-fit group the most.",
            )
        )
    return tuple(plots)
