"""Compare several mitigation strategies against one *before* run.

Each strategy's after run is compared with the shared before run
(:func:`specaudit.reports.compare.compare_runs`, paired on prompts). For the
whole run and for each task the table gives, with intervals:

- U (each run's own bootstrap interval) and its parts: Var(H), the target's
  own entropy spread, and U on KL, the drafter's part (``docs/method.md#u-decomposition``);
- U on the total variation, the figure to read where the cross-entropy is
  floor-dominated (``docs/method.md#floor``), which the row then says;
- the min/max group speed-up ratio;
- the mean group speed-up after, and its change (after / before, paired);
- the reference group's speed-up change;
- the change of the group that was worst before.

A second table gives every group's speed-up change per strategy. Outputs:
``strategies.html`` (self-contained), ``strategies.json`` and
``strategies.md`` (the same summary as a Markdown table).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from specaudit.atomic import write_atomic
from specaudit.metrics import Estimate
from specaudit.metrics.result import Disparity, TaskDisparity
from specaudit.reports.compare import Comparison, compare_runs
from specaudit.reports.formatting import Value, value
from specaudit.reports.rundata import RunData, load_run

__all__ = ["StrategyRow", "render_strategies", "strategy_rows"]

ALL = "all groups"


@dataclass(frozen=True)
class StrategyRow:
    """One strategy's figures over one scope (all groups, or one task)."""

    strategy: str
    scope: str
    unfairness_u: Value
    unfairness_u_entropy: Value  #: Var(H): the target's own entropy spread
    unfairness_u_kl: Value  #: U on the groups' KL(p‖q): the drafter's part
    unfairness_u_tv: Value  #: U on the total variation 1 − α
    floor_dominated: bool  #: CE and KL figures set by the log-q floor
    min_max_ratio: Value
    mean_speedup_after: Value
    mean_speedup_change: Value
    reference_group: str | None
    reference_change: Value
    worst_group: str | None  #: the scope's worst group before
    worst_change: Value


def _u_figures(d: Disparity | TaskDisparity) -> dict:
    """U, its parts and U_TV of one scope, as the row's fields."""
    return {
        "unfairness_u": value(d.unfairness_u, 4),
        "unfairness_u_entropy": value(d.unfairness_u_entropy, 4),
        "unfairness_u_kl": value(d.unfairness_u_kl, 4),
        "unfairness_u_tv": value(d.unfairness_u_tv, 4),
        "floor_dominated": bool(d.floor_dominated),
    }


def _worst(run: RunData, groups: list[str]) -> str | None:
    pairs = [(run.result.group(g).speedup.estimate, g) for g in groups]
    pairs = [(s, g) for s, g in pairs if s is not None]
    return min(pairs)[1] if pairs else None


def _times(est: Estimate) -> Value:
    return value(est, 3, "×")


def _row(name: str, scope: str, c: Comparison, before: RunData) -> StrategyRow:
    after = c.after.result
    if scope == ALL:
        groups = [g.group for g in after.groups]
        d, mean = after.disparity, c.mean_speedup
    else:
        groups = [g.group for g in after.groups if g.task == scope]
        d = next(t for t in after.disparity.by_task if t.task == scope)
        mean = next(m for m in c.by_task if m.label.endswith(f", {scope}"))
    change = {g.group: g for g in c.groups}
    reference = after.disparity.reference
    # Across tasks the reference language has one group per task: its change
    # is read per task, so the all-groups scope names none.
    ref = None if scope == ALL else next((g for g in groups if g.split("/")[0] == reference), None)
    worst = _worst(before, groups)
    missing = Estimate.of(None, None, None)
    return StrategyRow(
        strategy=name,
        scope=scope,
        **_u_figures(d),
        min_max_ratio=value(d.speedup_min_max_ratio, 3),
        mean_speedup_after=value(Estimate.of(mean.after, None, None), 3, "×"),
        mean_speedup_change=_times(mean.ratio),
        reference_group=ref,
        reference_change=_times(change[ref].speedup_ratio if ref else missing),
        worst_group=worst,
        worst_change=_times(change[worst].speedup_ratio if worst else missing),
    )


def _original_row(scope: str, before: RunData) -> StrategyRow:
    r = before.result
    if scope == ALL:
        d, groups = r.disparity, [g.group for g in r.groups]
    else:
        d = next(t for t in r.disparity.by_task if t.task == scope)
        groups = [g.group for g in r.groups if g.task == scope]
    speeds = [r.group(g).speedup.estimate for g in groups]
    speeds = [s for s in speeds if s is not None]
    mean = sum(speeds) / len(speeds) if speeds else None
    none = Value("—", "", None)
    return StrategyRow(
        strategy="original",
        scope=scope,
        **_u_figures(d),
        min_max_ratio=value(d.speedup_min_max_ratio, 3),
        mean_speedup_after=value(Estimate.of(mean, None, None), 3, "×"),
        mean_speedup_change=none,
        reference_group=None,
        reference_change=none,
        worst_group=_worst(before, groups),
        worst_change=none,
    )


def strategy_rows(
    before: RunData, comparisons: list[tuple[str, Comparison]]
) -> dict[str, list[StrategyRow]]:
    """Rows per scope: all groups, then each task; the original drafter first."""
    tasks = list(dict.fromkeys(g.task for g in before.result.groups))
    return {
        scope: [_original_row(scope, before)]
        + [_row(name, scope, c, before) for name, c in comparisons]
        for scope in (ALL, *tasks)
    }


def _cell(v: Value) -> str:
    return f"{v.text} {v.interval}".strip()


def markdown_table(rows: dict[str, list[StrategyRow]]) -> str:
    """Render the summary as Markdown, one block of rows per scope."""
    head = (
        "| scope | strategy | U | Var(H) | U on KL | U on TV | min/max speed-up | mean speed-up "
        "| mean change | reference change | worst group change |"
    )
    lines = [head, "|" + "---|" * 11]
    for scope, group in rows.items():
        for r in group:
            ref = f"{r.reference_group}: {_cell(r.reference_change)}" if r.reference_group else ""
            worst = f"{r.worst_group}: {_cell(r.worst_change)}" if r.worst_group else ""
            # A floor-dominated U and its parts say nothing about the fit: flag them.
            flag = " (floor)" if r.floor_dominated else ""
            lines.append(
                f"| {scope} | {r.strategy} | {_cell(r.unfairness_u)}{flag} "
                f"| {_cell(r.unfairness_u_entropy)}{flag} | {_cell(r.unfairness_u_kl)}{flag} "
                f"| {_cell(r.unfairness_u_tv)} | {_cell(r.min_max_ratio)} "
                f"| {r.mean_speedup_after.text} | {_cell(r.mean_speedup_change)} | {ref} "
                f"| {worst} |"
            )
    return "\n".join(lines) + "\n"


def render_strategies(
    out_dir: str | os.PathLike[str],
    afters: list[tuple[str, str | os.PathLike[str]]],
    *,
    before: str | os.PathLike[str],
) -> tuple[Path, str]:
    """Write ``strategies.html``, ``.json`` and ``.md`` into ``out_dir``.

    Parameters
    ----------
    out_dir : path
        The mitigation directory.
    afters : list of (strategy, run directory)
        Each strategy's follow-up audit (with ``metrics.json``).
    before : path
        The original drafter's audit on the same prompts.

    Returns
    -------
    (Path, str)
        The HTML file and the Markdown table.
    """
    from specaudit.reports.html import render_page

    base = load_run(before)
    comparisons = [(name, compare_runs(load_run(d), base)) for name, d in afters]
    rows = strategy_rows(base, comparisons)
    groups = [g.group for g in base.result.groups]
    per_group = [
        (name, [_times(next(x for x in c.groups if x.group == g).speedup_ratio) for g in groups])
        for name, c in comparisons
    ]
    out = Path(out_dir)
    table = markdown_table(rows)
    payload = {
        "before": str(before),
        "strategies": {name: str(d) for name, d in afters},
        "scopes": {s: [asdict(r) for r in rs] for s, rs in rows.items()},
        "group_speedup_change": {
            name: {g: asdict(v) for g, v in zip(groups, vals, strict=True)}
            for name, vals in per_group
        },
    }
    write_atomic(out / "strategies.json", json.dumps(payload, indent=2) + "\n")
    write_atomic(out / "strategies.md", table)
    level = base.result.settings.confidence_level
    html = render_page(
        "strategies.html.j2",
        title="Mitigation strategies compared",
        rows=rows,
        groups=groups,
        per_group=per_group,
        level=f"{level:.0%}",
        before_name=str(before),
    )
    path = write_atomic(out / "strategies.html", html)
    return path, table
