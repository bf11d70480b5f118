"""Output quality beside acceptance, as the report shows it.

:func:`quality_view` turns the groups' quality figures
(:class:`~specaudit.metrics.quality_result.GroupQuality`) into a table of
formatted rows and into verdict sentences. The central warning: a group whose
acceptance is high *because* its output is degenerate. A looping target is
easy to draft for, so such a group looks well served while its users get
repetition.

A group is warned about when all three hold:

- at least :data:`DEGENERATE_WARNING_SHARE` of its outputs are degenerate;
- its acceptance_rate is at or above the median acceptance_rate of its task;
- its acceptance_rate over the non-degenerate prompts is lower than over all
  prompts, or undefined (no non-degenerate prompt).

Groups with that many degenerate outputs whose acceptance is not raised by
them are still listed as degenerate in words.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from specaudit.metrics import GroupMetrics, MetricsResult
from specaudit.reports.formatting import Value, fmt, group_title, language_name, value
from specaudit.reports.status import Badge

__all__ = [
    "DEGENERATE_WARNING_SHARE",
    "QualityRow",
    "QualityView",
    "inflated_by_degeneracy",
    "quality_view",
]

#: Groups with at least this share of degenerate outputs are named in the verdict.
DEGENERATE_WARNING_SHARE = 0.25


@dataclass(frozen=True)
class QualityRow:
    """One group's quality, acceptance and throughput, formatted."""

    key: str
    language_name: str
    task: str
    n_prompts: int
    n_degenerate: int
    cells: tuple[Value, ...]
    badge: Badge


@dataclass(frozen=True)
class QualityView:
    """The quality section: table rows and the verdict's sentences.

    Attributes
    ----------
    columns : tuple of str
        Header labels of ``rows[].cells``.
    rows : tuple of QualityRow
        One per group with quality figures.
    warnings : tuple of str
        Sentences on groups whose acceptance is high because their output
        is degenerate, and on other groups with many degenerate outputs.
    inflated : tuple of str
        Keys of the groups warned about.
    throughput : str
        A sentence on characters and tokens per second.
    missing : bool
        Whether the metrics predate quality figures (recompute them).
    """

    columns: tuple[str, ...]
    rows: tuple[QualityRow, ...]
    warnings: tuple[str, ...]
    inflated: tuple[str, ...]
    throughput: str
    missing: bool


#: (label, figure on GroupMetrics or on its quality, decimals, suffix).
_COLUMNS: tuple[tuple[str, str, int, str], ...] = (
    ("Degenerate share", "quality.degenerate_share", 2, ""),
    ("Acceptance α, all", "acceptance_rate", 3, ""),
    ("Acceptance α, non-degenerate", "quality.acceptance_rate_non_degenerate", 3, ""),
    ("Speed-up, all", "speedup", 2, "×"),
    ("Speed-up, non-degenerate", "quality.speedup_non_degenerate", 2, "×"),
    ("chrF", "quality.chrf", 1, ""),
    ("chrF++", "quality.chrf_plus_plus", 1, ""),
    ("Tokens/s plain", "tokens_per_s_plain", 1, ""),
    ("Tokens/s speculative", "tokens_per_s_spec", 1, ""),
    ("Chars/s plain", "chars_per_s_plain", 1, ""),
    ("Chars/s speculative", "chars_per_s_spec", 1, ""),
)


def _figure(g: GroupMetrics, path: str):
    owner, _, name = path.rpartition(".")
    return getattr(g.quality if owner else g, name)


def _degenerate_share(g: GroupMetrics) -> float | None:
    return None if g.quality is None else g.quality.degenerate_share.estimate


def _often_degenerate(g: GroupMetrics) -> bool:
    share = _degenerate_share(g)
    return share is not None and share >= DEGENERATE_WARNING_SHARE


def inflated_by_degeneracy(result: MetricsResult) -> tuple[str, ...]:
    """Keys of the groups whose high acceptance comes from degenerate output.

    See the module docstring for the rule.
    """
    keys = []
    for g in result.groups:
        alpha = g.acceptance_rate.estimate
        if not _often_degenerate(g) or alpha is None:
            continue
        task_alphas = [
            x.acceptance_rate.estimate
            for x in result.groups
            if x.task == g.task and x.acceptance_rate.estimate is not None
        ]
        kept = g.quality.acceptance_rate_non_degenerate.estimate
        if alpha >= statistics.median(task_alphas) and (kept is None or kept < alpha):
            keys.append(g.group)
    return tuple(keys)


def _inflated_sentence(g: GroupMetrics, result: MetricsResult) -> str:
    q = g.quality
    alpha = value(g.acceptance_rate, 3)
    kept = value(q.acceptance_rate_non_degenerate, 3)
    rank = 1 + sum(
        1
        for x in result.groups
        if x.task == g.task
        and x.acceptance_rate.estimate is not None
        and x.acceptance_rate.estimate > g.acceptance_rate.estimate
    )
    n_task = sum(1 for x in result.groups if x.task == g.task)
    tail = (
        f"on its non-degenerate prompts acceptance is {kept.text} {kept.interval}".rstrip()
        + f" and the speed-up {fmt(q.speedup_non_degenerate.estimate, 2, '×')} "
        f"(against {fmt(g.speedup.estimate, 2, '×')} over all prompts)"
        if q.acceptance_rate_non_degenerate.estimate is not None
        else "no prompt of it is free of degeneracy"
    )
    return (
        f"Warning: {group_title(g.group)} ranks {rank} of {n_task} {g.task} groups in "
        f"acceptance ({alpha.text} {alpha.interval}) because its output is degenerate: "
        f"{q.n_degenerate} of {g.n_prompts} outputs ({q.degenerate_share.estimate:.0%}) are "
        f"repetition loops or near-duplicates; {tail}. Its acceptance does not mean "
        "its users are well served."
    ).replace(" )", ")")


def _warnings(result: MetricsResult, inflated: tuple[str, ...]) -> tuple[str, ...]:
    sentences = [_inflated_sentence(result.group(k), result) for k in inflated]
    others = [g for g in result.groups if _often_degenerate(g) and g.group not in inflated]
    if others:
        listed = ", ".join(
            f"{g.group} ({g.quality.n_degenerate} of {g.n_prompts})"
            for g in sorted(others, key=lambda g: -(_degenerate_share(g) or 0.0))
        )
        sentences.append(
            f"Also degenerate in at least {DEGENERATE_WARNING_SHARE:.0%} of outputs, "
            f"without raising acceptance: {listed}."
        )
    return tuple(sentences)


def _throughput(result: MetricsResult) -> str:
    groups = [
        g
        for g in result.groups
        if g.chars_per_s_spec.estimate is not None and g.tokens_per_s_spec.estimate is not None
    ]
    if not groups:
        return ""
    lo = min(groups, key=lambda g: g.chars_per_s_spec.estimate)
    hi = max(groups, key=lambda g: g.chars_per_s_spec.estimate)

    def rates(g: GroupMetrics) -> str:
        return (
            f"{fmt(g.chars_per_s_spec.estimate, 0)} characters/s speculative "
            f"({fmt(g.chars_per_s_plain.estimate, 0)} plain) from "
            f"{fmt(g.tokens_per_s_spec.estimate, 0)} tokens/s "
            f"({fmt(g.tokens_per_s_plain.estimate, 0)} plain)"
        )

    return (
        f"Users feel characters, not tokens: {group_title(lo.group)} gets {rates(lo)}, "
        f"{group_title(hi.group)} gets {rates(hi)}."
    )


def _badge(g: GroupMetrics, inflated: tuple[str, ...]) -> Badge:
    if g.quality is None:
        return Badge("no quality figures", "○", "none", "recompute metrics with this version")
    if g.group in inflated:
        return Badge(
            "acceptance inflated",
            "!",
            "bad",
            "high acceptance that comes from degenerate (repetitive) output",
        )
    if _often_degenerate(g):
        return Badge(
            "degenerate",
            "!",
            "unclear",
            f"at least {DEGENERATE_WARNING_SHARE:.0%} of outputs are degenerate",
        )
    return Badge("output ok", "✓", "good", "few degenerate outputs")


def quality_view(result: MetricsResult) -> QualityView:
    """Build the quality table and sentences of a run.

    Parameters
    ----------
    result : MetricsResult
        The run's metrics; groups without ``quality`` (older results) are
        left out of the table.

    Returns
    -------
    QualityView
    """
    inflated = inflated_by_degeneracy(result)
    rows = tuple(
        QualityRow(
            key=g.group,
            language_name=language_name(g.language),
            task=g.task,
            n_prompts=g.n_prompts,
            n_degenerate=g.quality.n_degenerate,
            cells=tuple(value(_figure(g, path), d, s) for _, path, d, s in _COLUMNS),
            badge=_badge(g, inflated),
        )
        for g in result.groups
        if g.quality is not None
    )
    return QualityView(
        columns=tuple(label for label, *_ in _COLUMNS),
        rows=rows,
        warnings=_warnings(result, inflated),
        inflated=inflated,
        throughput=_throughput(result),
        missing=not rows,
    )
