"""The typed view of a before/after comparison that the HTML template renders.

Built by :func:`build_comparison_context` from a
:class:`~specaudit.reports.compare.Comparison`; like
:mod:`specaudit.reports.context`, every number is formatted here and every
status carries a word and a symbol.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from specaudit.metrics import Estimate
from specaudit.metrics.result import Disparity
from specaudit.reports.compare import Comparison, GroupChange
from specaudit.reports.context import Card, reference_groups
from specaudit.reports.examples import Example, ExampleGroup, clean_text, pick_rows
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
from specaudit.reports.status import Badge, change_badge, lossless_badge, speedup_badge

__all__ = [
    "ChangeRow",
    "ComparisonContext",
    "DisparityRow",
    "build_comparison_context",
    "config_differences",
]


@dataclass(frozen=True)
class ChangeRow:
    """One group of the per-group change table."""

    key: str
    language_name: str
    task: str
    is_reference: bool
    is_best_served: bool
    pairing: str
    n_shared: int
    speedup_before: Value
    speedup_after: Value
    speedup_ratio: Value
    speedup_p: str
    speedup_badge: Badge
    after_badge: Badge
    acceptance_before: Value
    acceptance_after: Value
    acceptance_diff: Value
    acceptance_p: str
    acceptance_badge: Badge


@dataclass(frozen=True)
class DisparityRow:
    """One disparity figure before and after."""

    label: str
    before: Value
    after: Value
    note: str


@dataclass(frozen=True)
class ComparisonContext:
    """Everything the comparison template needs."""

    title: str
    after_name: str
    before_name: str
    level: str
    cards: tuple[Card, ...]
    sentences: tuple[str, ...]
    rows: tuple[ChangeRow, ...]
    disparity: tuple[DisparityRow, ...]
    examples: tuple[ExampleGroup, ...]
    after_method: MethodInfo
    before_method: MethodInfo
    config_changes: tuple[tuple[str, str, str], ...]
    notes: tuple[str, ...]


def config_differences(after: dict, before: dict) -> tuple[tuple[str, str, str], ...]:
    """(key, before, after) for every top-level config key whose value differs."""
    keys = list(dict.fromkeys([*before, *after]))
    return tuple(
        (k, str(before.get(k, "—")), str(after.get(k, "—")))
        for k in keys
        if before.get(k) != after.get(k)
    )


def _ratio_text(r: Estimate, suffix: str = "×") -> str:
    v = value(r, 2, suffix)
    return f"{v.text} {v.interval}".strip()


def _row(g: GroupChange, refs: set[str], best: set[str], alpha: float) -> ChangeRow:
    r, a = g.speedup_ratio, g.acceptance_diff
    return ChangeRow(
        key=g.group,
        language_name=language_name(g.language),
        task=g.task,
        is_reference=g.group in refs,
        is_best_served=g.group in best,
        pairing=g.pairing,
        n_shared=g.n_shared,
        speedup_before=value(g.before["speedup"], 2, "×"),
        speedup_after=value(g.after["speedup"], 2, "×"),
        speedup_ratio=value(r, 3, "×"),
        speedup_p=fmt_p(r.p_adjusted),
        speedup_badge=change_badge(
            r.ci_low, r.ci_high, null=1.0, p_adjusted=r.p_adjusted, alpha=alpha
        ),
        after_badge=speedup_badge(g.after["speedup"]),
        acceptance_before=value(g.before["acceptance_rate"], 3),
        acceptance_after=value(g.after["acceptance_rate"], 3),
        acceptance_diff=value(a, 3),
        acceptance_p=fmt_p(a.p_adjusted),
        acceptance_badge=change_badge(
            a.ci_low, a.ci_high, null=0.0, p_adjusted=a.p_adjusted, alpha=alpha
        ),
    )


def _u_part_rows(da: Disparity, db: Disparity) -> list[DisparityRow]:
    """U's decomposition and U_TV (``docs/method.md#u-decomposition``), before and after."""
    floored = sorted(set(da.floor_dominated) | set(db.floor_dominated))
    parts = [
        ("U: Var(H), the target's own entropy", "unfairness_u_entropy", "no drafter can change it"),
        ("U on KL: Var(KL), the drafter's part", "unfairness_u_kl", "0 = no disparity"),
        ("U: 2 Cov(H, KL)", "unfairness_u_covariance", "U = Var(H) + Var(KL) + 2 Cov"),
        ("U on total variation: Var(1 − α)", "unfairness_u_tv", "0 = no disparity"),
    ]
    rows = []
    for label, name, note in parts:
        if name != "unfairness_u_tv" and floored:
            note = "floor-dominated (q = 0 on tokens the target rates): read U on TV"
        rows.append(
            DisparityRow(label, value(getattr(db, name), 4), value(getattr(da, name), 4), note)
        )
    return rows


def _disparity(c: Comparison) -> tuple[DisparityRow, ...]:
    da, db = c.after.result.disparity, c.before.result.disparity
    change = c.u_change
    return (
        DisparityRow(
            "Unfairness U",
            value(db.unfairness_u, 4),
            value(da.unfairness_u, 4),
            "0 = no disparity" + (f"; change {change:+.0%}" if change is not None else ""),
        ),
        *_u_part_rows(da, db),
        DisparityRow(
            "Speed-up min/max",
            value(db.speedup_min_max_ratio, 2),
            value(da.speedup_min_max_ratio, 2),
            "1 = no disparity; biased low",
        ),
        DisparityRow(
            "Speed-up coefficient of variation",
            value(db.speedup_cv, 3),
            value(da.speedup_cv, 3),
            "0 = no disparity",
        ),
        DisparityRow(
            "Share of prompts slower",
            value(db.share_slower, 2),
            value(da.share_slower, 2),
            "speed-up below 1.0",
        ),
        DisparityRow(
            "Worst group",
            Value(db.worst_group or "n/a", "", None),
            Value(da.worst_group or "n/a", "", None),
            "smallest speed-up",
        ),
    )


def _summary(
    c: Comparison, rows: tuple[ChangeRow, ...]
) -> tuple[tuple[Card, ...], tuple[str, ...]]:
    da, db = c.after.result.disparity, c.before.result.disparity
    u_change = c.u_change
    ub, ua = value(db.unfairness_u, 4), value(da.unfairness_u, 4)
    m, best = c.mean_speedup, c.best_served
    better = sum(r.speedup_badge.word == "better" for r in rows)
    worse = sum(r.speedup_badge.word == "worse" for r in rows)
    slower_before = sum(speedup_badge(g.before["speedup"]).word == "slower" for g in c.groups)
    slower_after = sum(r.after_badge.word == "slower" for r in rows)
    alpha = 1.0 - c.confidence_level
    cards = (
        Card(
            "Unfairness U",
            f"{ub.text} → {ua.text}",
            (f"{u_change:+.0%}; " if u_change is not None else "")
            + f"before {ub.interval or 'n/a'}, after {ua.interval or 'n/a'}",
        ),
        Card(
            "Worst served",
            f"{db.worst_group or 'n/a'} → {da.worst_group or 'n/a'}",
            "group with the smallest speed-up, before → after",
        ),
        Card(
            "Mean speed-up",
            f"{times(m.before)} → {times(m.after)}",
            f"ratio {_ratio_text(m.ratio)}, groups weighted equally",
            change_badge(m.ratio.ci_low, m.ratio.ci_high, null=1.0),
        ),
        Card(
            "Cost to best-served groups",
            f"{times(best.before)} → {times(best.after)}",
            f"ratio {_ratio_text(best.ratio)} over the {len(best.groups)} best-served groups "
            "before (◎ in the table)",
            change_badge(best.ratio.ci_low, best.ratio.ci_high, null=1.0),
        ),
        Card(
            "Groups slower than plain",
            f"{slower_before} → {slower_after}",
            f"of {len(rows)} groups (interval below 1.0); {better} groups got faster, "
            f"{worse} slower",
        ),
    )
    sentences = (
        f"Unfairness U went from {ub.text} {ub.interval} to {ua.text} {ua.interval}"
        + (f" ({u_change:+.0%})." if u_change is not None else "."),
        f"The worst-served group was {db.worst_group or 'n/a'} before and is "
        f"{da.worst_group or 'n/a'} after.",
        f"The mean speed-up over groups went from {times(m.before)} to {times(m.after)} "
        f"(ratio {_ratio_text(m.ratio)}).",
        f"The best-served groups before ({', '.join(best.groups)}) went from "
        f"{times(best.before)} to {times(best.after)} (ratio {_ratio_text(best.ratio)}): "
        "this is what the change cost them.",
        f"{better} of {len(rows)} groups are faster after and {worse} slower, judged by paired "
        f"intervals and Holm-adjusted p-values below {alpha:g}.",
    )
    return cards, sentences


def _examples(c: Comparison, per_group: int) -> tuple[ExampleGroup, ...]:
    pa, pb = c.after.result.prompts, c.before.result.prompts
    if pa is None or pb is None or "group" not in pa or "group" not in pb:
        return ()
    out = []
    for key, frame in pa.groupby("group", sort=False):
        before = pb[pb["group"] == key].set_index("id")
        frame = frame[frame["id"].isin(before.index)].reset_index(drop=True)
        examples = []
        for row, why in pick_rows(frame, per_group):
            rec = frame.iloc[row]
            old = before.loc[rec["id"]]
            prompt, cut_p = clean_text(rec.get("prompt"))
            output, cut_o = clean_text(rec.get("output_text"))
            old_output, cut_b = clean_text(old.get("output_text"))
            examples.append(
                Example(
                    id=str(rec["id"]),
                    why=f"{why} after",
                    prompt=prompt,
                    output=output,
                    speedup=(
                        f"{times(_num(old.get('speedup')))} → {times(_num(rec.get('speedup')))}"
                    ),
                    acceptance=(
                        f"{fmt(_num(old.get('acceptance_rate')), 3)} → "
                        f"{fmt(_num(rec.get('acceptance_rate')), 3)}"
                    ),
                    lossless=lossless_badge(_flag(rec.get("lossless"))),
                    truncated=cut_p or cut_o or cut_b,
                    before_output=old_output if old_output != output else None,
                )
            )
        out.append(ExampleGroup(str(key), group_title(str(key)), tuple(examples)))
    return tuple(out)


def _flag(x: object) -> object:
    return None if x is None or (isinstance(x, float) and pd.isna(x)) else x


def _num(x: object) -> float | None:
    try:
        return float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def build_comparison_context(c: Comparison, *, examples_per_group: int = 2) -> ComparisonContext:
    """Build the view of a before/after comparison for the HTML template.

    Parameters
    ----------
    c : Comparison
        From :func:`~specaudit.reports.compare.compare_runs`.
    examples_per_group : int, default 2
        Shared prompts shown per group.

    Returns
    -------
    ComparisonContext
    """
    refs = reference_groups(c.after.result)
    alpha = 1.0 - c.confidence_level
    rows = tuple(_row(g, refs, set(c.best_served.groups), alpha) for g in c.groups)
    cards, sentences = _summary(c, rows)
    return ComparisonContext(
        title=f"Before/after fairness report: {c.before.name} → {c.after.name}",
        after_name=c.after.name,
        before_name=c.before.name,
        level=f"{c.confidence_level:.0%}",
        cards=cards,
        sentences=sentences,
        rows=rows,
        disparity=_disparity(c),
        examples=_examples(c, examples_per_group),
        after_method=method_info(c.after),
        before_method=method_info(c.before),
        config_changes=config_differences(c.after.config, c.before.config),
        notes=c.notes,
    )
