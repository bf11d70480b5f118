"""The typed view of one run that the HTML template renders.

:func:`build_context` turns a :class:`~specaudit.reports.rundata.RunData`
(and, optionally, a gate result) into a :class:`ReportContext`: verdict,
per-group table, contrasts, examples and method, all as plain strings and
small dataclasses. The template only lays them out; every number is
formatted here, and every status carries a word and a symbol
(:mod:`specaudit.reports.status`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from specaudit.metrics import Contrast, Estimate, GroupMetrics, MetricsResult
from specaudit.reports.definitions import LABELS
from specaudit.reports.examples import ExampleGroup, select_examples
from specaudit.reports.formatting import (
    Value,
    fmt,
    fmt_p,
    group_title,
    language_name,
    times,
    value,
)
from specaudit.reports.method import MethodInfo, method_info
from specaudit.reports.quality import DEGENERATE_WARNING_SHARE, QualityView, quality_view
from specaudit.reports.rundata import RunData
from specaudit.reports.status import (
    Badge,
    contrast_badge,
    gate_badge,
    speedup_badge,
    timing_badge,
)
from specaudit.reports.unfairness import unfairness_cards, unfairness_sentences

if TYPE_CHECKING:
    from specaudit.gate import GateResult

__all__ = [
    "TABLE_COLUMNS",
    "Card",
    "ContrastRow",
    "GateRow",
    "GateView",
    "GroupRow",
    "ReportContext",
    "Verdict",
    "build_context",
    "gate_view",
    "reference_groups",
]

#: Per-group table columns: (metric, decimals, suffix).
TABLE_COLUMNS: tuple[tuple[str, int, str], ...] = (
    ("acceptance_rate", 3, ""),
    ("mean_accepted_length", 2, ""),
    ("speedup", 2, "×"),
    ("speedup_modelled", 2, "×"),
    ("analytic_speedup", 2, "×"),
    ("tokens_per_char", 3, ""),
)


@dataclass(frozen=True)
class Card:
    """One figure for the at-a-glance strip: label, big value, detail line."""

    label: str
    value: str
    detail: str
    badge: Badge | None = None


@dataclass(frozen=True)
class GateRow:
    """One gate row that needs attention."""

    badge: Badge
    check: str
    subject: str
    message: str
    blocking: bool


@dataclass(frozen=True)
class GateView:
    """The gate result as the verdict shows it."""

    badge: Badge
    policy: str
    counts: str
    exit_code: int | None
    rows: tuple[GateRow, ...]


@dataclass(frozen=True)
class Verdict:
    """The verdict section: glance cards, sentences, slow groups, gate."""

    cards: tuple[Card, ...]
    sentences: tuple[str, ...]
    slower: tuple[tuple[str, Value, Badge], ...]
    gate: GateView | None


@dataclass(frozen=True)
class GroupRow:
    """One row of the per-group table."""

    key: str
    language: str
    language_name: str
    task: str
    n_prompts: int
    is_reference: bool
    cells: tuple[Value, ...]
    badge: Badge


@dataclass(frozen=True)
class ContrastRow:
    """One contrast against the reference group."""

    group: str
    reference: str
    n_prompts: int
    n_reference: int
    resampling: str
    ratio: Value
    ratio_simultaneous: str
    ratio_p: str
    ratio_badge: Badge
    diff: Value
    diff_simultaneous: str
    diff_p: str
    diff_badge: Badge


@dataclass(frozen=True)
class ReportContext:
    """Everything the single-run template needs."""

    title: str
    run_name: str
    level: str
    reference: str
    verdict: Verdict
    columns: tuple[str, ...]
    groups: tuple[GroupRow, ...]
    contrasts: tuple[ContrastRow, ...]
    alpha: float
    examples: tuple[ExampleGroup, ...]
    method: MethodInfo
    quality: QualityView


def reference_groups(result: MetricsResult) -> set[str]:
    """Keys of the reference groups (one per task for a reference language)."""
    ref = result.disparity.reference
    if "/" in ref:
        return {ref}
    return {g.group for g in result.groups if g.language == ref}


def _has(g: GroupMetrics) -> bool:
    return g.speedup.estimate is not None


def _spread_groups(result: MetricsResult) -> list[GroupMetrics]:
    """Return the groups in the disparity figures, else every group with a speed-up."""
    chosen = [g for g in result.groups if g.group in result.disparity.groups and _has(g)]
    return chosen or [g for g in result.groups if _has(g)]


def _contrast_of(result: MetricsResult, key: str | None) -> Contrast | None:
    return next((c for c in result.disparity.contrasts if c.group == key), None)


def _gap_card(result: MetricsResult, worst: GroupMetrics | None) -> Card:
    contrast = _contrast_of(result, worst.group if worst else None)
    if contrast is not None and contrast.speedup_ratio.estimate is not None:
        r = contrast.speedup_ratio
        detail = f"of the reference {contrast.reference}"
        if r.ci_low is not None:
            detail += f"; interval [{fmt(r.ci_low)}, {fmt(r.ci_high)}]"
        detail += f"; adjusted p {fmt_p(r.p_adjusted)}"
        return Card("Gap to reference", times(r.estimate), detail)
    mm = result.disparity.speedup_min_max_ratio
    detail = "smallest over largest group speed-up (biased low)"
    if mm.ci_low is not None:
        detail += f"; interval [{fmt(mm.ci_low)}, {fmt(mm.ci_high)}]"
    return Card("Gap (min/max)", times(mm.estimate), detail)


def _slower_summary(
    slower: tuple[tuple[str, Value, Badge], ...], n_groups: int, share: Estimate
) -> tuple[Card, str]:
    """Summarise the groups slower than plain decoding: a card and a sentence."""
    words = [b.word for _, _, b in slower]
    n_below, n_unclear = words.count("slower"), words.count("unclear")
    n_no_interval = words.count("no interval")
    more = []
    if n_unclear:
        more.append(f"{n_unclear} more have an interval containing 1.0")
    if n_no_interval:
        more.append(
            f"{n_no_interval} have a speed-up below 1.0 but too few prompts for an interval"
        )
    detail = "; ".join(more) or "no other group's interval reaches below 1.0"
    card = Card("Slower than plain decoding", f"{n_below} of {n_groups} groups", detail)
    sentence = (
        f"{n_below} of {n_groups} groups are slower than plain decoding (interval below 1.0)"
        + (f"; {detail}" if more else "")
        + "."
    )
    if share.estimate is not None:
        sentence += f" Overall, {share.estimate:.0%} of prompts ran slower with speculation."
    return card, sentence


def _quality_card(result: MetricsResult, quality: QualityView) -> Card | None:
    """Summarise degenerate output in a card, naming groups whose acceptance it inflates."""
    if quality.missing:
        return None
    n_bad = sum(1 for r in quality.rows if r.badge.word != "output ok")
    # Say what counts: the bar is a quarter of the outputs, not most of them.
    counted = f"with at least {DEGENERATE_WARNING_SHARE:.0%} of outputs degenerate; "
    detail = counted + (
        f"acceptance inflated by degenerate output: {', '.join(quality.inflated)}"
        if quality.inflated
        else "no group's acceptance is inflated by it"
    )
    badge = next((r.badge for r in quality.rows if r.key in quality.inflated), None)
    n_groups = len(result.groups)
    return Card("Degenerate output", f"{n_bad} of {n_groups} groups", detail, badge)


def _timing_card(result: MetricsResult) -> tuple[Card, str] | None:
    """Summarise how far the run's timings can be trusted: a card and a sentence."""
    timing = result.timing
    if timing is None:
        return None
    badge = timing_badge(timing.verdict)
    spreads = [s for s in (timing.spread_plain, timing.spread_spec) if s is not None]
    scatter = f"{100 * max(spreads):.0f}%" if spreads else "n/a"
    detail = (
        f"{timing.n_retimed} prompts re-timed, {timing.n_flagged} still stalled of "
        f"{timing.n_prompts}; decodes scatter {scatter} around the cost model"
    )
    if timing.spread_speedup is not None:
        detail += f", prompts' speed-ups {100 * timing.spread_speedup:.0f}%"
    if timing.n_steps_trimmed:
        detail += (
            f"; {timing.n_steps_trimmed} stalled steps counted at their decode's typical speed "
            f"({100 * (timing.trimmed_share or 0.0):.1f}% of decode time)"
        )
    if timing.load_1m_max is not None:
        detail += f"; load average up to {timing.load_1m_max:.1f}"
    sentence = f"Timing health is {timing.verdict}: {detail}."
    if timing.reasons:
        sentence += " " + "; ".join(timing.reasons).capitalize() + "."
    return Card("Timing", badge.word, detail, badge), sentence


def _verdict(result: MetricsResult, gate: GateView | None, quality: QualityView) -> Verdict:
    d = result.disparity
    spread = _spread_groups(result)
    worst = next((g for g in result.groups if g.group == d.worst_group), None)
    if worst is None and spread:
        worst = min(spread, key=lambda g: g.speedup.estimate)
    cards: list[Card] = []
    sentences: list[str] = []
    if worst is not None:
        w = value(worst.speedup, 2, "×")
        cards.append(
            Card(
                "Worst served",
                language_name(worst.language),
                f"{worst.task} ({worst.group}): speed-up {w.text} {w.interval}".rstrip(),
                speedup_badge(worst.speedup),
            )
        )
        cards.append(_gap_card(result, worst))
        sentences.append(
            f"The worst-served group is {group_title(worst.group)}, with a speed-up of "
            f"{w.text} {w.interval}.".replace(" .", ".")
        )
    cards += [Card(c.title, c.value, c.detail) for c in unfairness_cards(d)]
    sentences += unfairness_sentences(d)
    if spread:
        lo = min(spread, key=lambda g: g.speedup.estimate)
        hi = max(spread, key=lambda g: g.speedup.estimate)
        mm = value(d.speedup_min_max_ratio, 2)
        cards.append(
            Card(
                "Speed-up range",
                f"{times(lo.speedup.estimate)} – {times(hi.speedup.estimate)}",
                f"{lo.group} to {hi.group}; min/max {mm.text} {mm.interval}".rstrip(),
            )
        )
        sentences.append(
            f"Group speed-ups range from {times(lo.speedup.estimate)} ({lo.group}) to "
            f"{times(hi.speedup.estimate)} ({hi.group}); the min/max ratio is {mm.text}"
            + (f" {mm.interval}" if mm.interval else "")
            + " (biased low: decisions use the contrasts below)."
        )
    slower = tuple(
        (g.group, value(g.speedup, 2, "×"), speedup_badge(g.speedup))
        for g in sorted(result.groups, key=lambda g: g.speedup.estimate or 0.0)
        if g.speedup.estimate is not None
        and (g.speedup.estimate < 1.0 or (g.speedup.ci_low is not None and g.speedup.ci_low < 1.0))
    )
    card, sentence = _slower_summary(slower, len(result.groups), d.share_slower)
    cards.append(card)
    sentences.append(sentence)
    quality_card = _quality_card(result, quality)
    if quality_card is not None:
        cards.append(quality_card)
    timing = _timing_card(result)
    if timing is not None:
        cards.append(timing[0])
        sentences.append(timing[1])
    sentences += [*quality.warnings, *([quality.throughput] if quality.throughput else [])]
    return Verdict(tuple(cards), tuple(sentences), slower, gate)


def gate_view(gate: GateResult | Mapping[str, Any] | None) -> GateView | None:
    """Normalise a :class:`~specaudit.gate.GateResult` or its dict form for the verdict.

    A dict may hold ``verdict`` (or ``exit_code``: 0 pass, 1 fail, else
    inconclusive), ``policy`` and ``rows`` (mappings with ``status``,
    ``check``, ``subject``, ``message`` or ``explanation``, ``blocking``).
    """
    if gate is None:
        return None
    if isinstance(gate, Mapping):
        exit_code = gate.get("exit_code")
        verdict = gate.get("verdict") or {0: "pass", 1: "fail"}.get(exit_code, "inconclusive")
        policy = str(gate.get("policy", ""))
        raw_rows: Sequence[Mapping[str, Any]] = gate.get("rows") or ()
        rows = [
            (
                str(r.get("status", "")),
                str(r.get("check", "")),
                str(r.get("subject", "")),
                str(r.get("message") or r.get("explanation", "")),
                bool(r.get("blocking", False)),
            )
            for r in raw_rows
        ]
    else:
        exit_code = gate.exit_code
        verdict = gate.verdict.value
        policy = str(gate.policy)
        rows = [(r.status.value, r.check, r.subject, r.message, r.blocking) for r in gate.rows]
    verdict = str(getattr(verdict, "value", verdict))
    counts: dict[str, int] = {}
    for status, *_ in rows:
        counts[status] = counts.get(status, 0) + 1
    order = ("fail", "inconclusive", "warning", "pass")
    counts_text = " · ".join(f"{counts[s]} {s}" for s in order if counts.get(s)) or "no checks"
    attention = tuple(
        GateRow(gate_badge(status), check, subject, message, blocking)
        for status, check, subject, message, blocking in rows
        if status != "pass"
    )
    return GateView(gate_badge(verdict), policy, counts_text, exit_code, attention)


def _group_rows(result: MetricsResult, refs: set[str]) -> tuple[GroupRow, ...]:
    return tuple(
        GroupRow(
            key=g.group,
            language=g.language,
            language_name=language_name(g.language),
            task=g.task,
            n_prompts=g.n_prompts,
            is_reference=g.group in refs,
            cells=tuple(value(getattr(g, m), d, s) for m, d, s in TABLE_COLUMNS),
            badge=speedup_badge(g.speedup),
        )
        for g in result.groups
    )


def _contrast_rows(result: MetricsResult, alpha: float) -> tuple[ContrastRow, ...]:
    def sim(e: Any, digits: int) -> str:
        if e.sim_ci_low is None or e.sim_ci_high is None:
            return ""
        return f"[{fmt(e.sim_ci_low, digits)}, {fmt(e.sim_ci_high, digits)}]"

    rows = []
    for c in result.disparity.contrasts:
        r, a = c.speedup_ratio, c.acceptance_diff
        rows.append(
            ContrastRow(
                group=c.group,
                reference=c.reference,
                n_prompts=c.n_prompts,
                n_reference=c.n_reference_prompts,
                resampling=c.resampling,
                ratio=value(r, 2, "×"),
                ratio_simultaneous=sim(r, 2),
                ratio_p=fmt_p(r.p_adjusted),
                ratio_badge=contrast_badge(
                    r.ci_low, r.ci_high, r.p_adjusted, null=1.0, alpha=alpha
                ),
                diff=value(a, 3),
                diff_simultaneous=sim(a, 3),
                diff_p=fmt_p(a.p_adjusted),
                diff_badge=contrast_badge(a.ci_low, a.ci_high, a.p_adjusted, null=0.0, alpha=alpha),
            )
        )
    return tuple(rows)


def build_context(
    run: RunData,
    *,
    gate: GateResult | Mapping[str, Any] | None = None,
    examples_per_group: int = 3,
) -> ReportContext:
    """Build the view of one run for the HTML template.

    Parameters
    ----------
    run : RunData
        The run directory's metrics, config and environment.
    gate : GateResult or dict, optional
        A gate result to show in the verdict.
    examples_per_group : int, default 3
        Prompts shown per group (slowest, median and fastest speed-up).

    Returns
    -------
    ReportContext
    """
    result = run.result
    level = result.settings.confidence_level
    alpha = 1.0 - level
    refs = reference_groups(result)
    quality = quality_view(result)
    return ReportContext(
        title=f"Speculative decoding fairness report: {run.name}",
        run_name=run.name,
        level=f"{level:.0%}",
        reference=", ".join(sorted(refs)) or result.disparity.reference,
        verdict=_verdict(result, gate_view(gate), quality),
        columns=tuple(LABELS[m] for m, _, _ in TABLE_COLUMNS),
        groups=_group_rows(result, refs),
        contrasts=_contrast_rows(result, alpha),
        alpha=alpha,
        examples=select_examples(result.prompts, per_group=examples_per_group),
        method=method_info(run),
        quality=quality,
    )
