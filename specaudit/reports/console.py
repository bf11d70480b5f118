"""A compact plain-text summary of a metrics result for the terminal."""

from __future__ import annotations

from specaudit.metrics import MetricsResult
from specaudit.metrics.estimate import Estimate

__all__ = ["format_estimate", "format_summary"]


def format_estimate(e: Estimate, digits: int = 2, suffix: str = "") -> str:
    """Format an estimate as ``"1.23 [1.10, 1.40]"`` plus ``suffix``, or ``"n/a"``.

    The suffix (a unit such as ``"x"``) follows the interval and is left off
    ``"n/a"``.
    """
    if e.estimate is None:
        return "n/a"
    text = f"{e.estimate:.{digits}f}"
    if e.ci_low is not None and e.ci_high is not None:
        text += f" [{e.ci_low:.{digits}f}, {e.ci_high:.{digits}f}]"
    return text + suffix


def format_summary(result: MetricsResult) -> str:
    """One line per group (acceptance, speed-up, degenerate share), disparity, timing health.

    ``speedup`` is the robust measured figure, ``modelled`` the cost model's
    (step counts and fitted per-forward costs only).

    The degenerate share sits beside acceptance because a looping target
    inflates acceptance; "n/a" when the metrics carry no quality figures.
    """
    rows = [("group", "n", "acceptance_rate", "speedup", "modelled", "slower", "degenerate")]
    for g in result.groups:
        degenerate = format_estimate(g.quality.degenerate_share) if g.quality is not None else "n/a"
        rows.append(
            (
                g.group,
                str(g.n_prompts),
                format_estimate(g.acceptance_rate),
                format_estimate(g.speedup, suffix="x"),
                format_estimate(g.speedup_modelled, suffix="x"),
                format_estimate(g.share_slower),
                degenerate,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    d = result.disparity
    u = f"unfairness_u: {format_estimate(d.unfairness_u, 4)}"
    u_tv = f"unfairness_u_tv: {format_estimate(d.unfairness_u_tv, 4)}"
    # A floor-dominated U says nothing about the drafter's fit: lead with U_TV.
    lead = f"{u_tv}   {u} (floor-dominated)" if d.floor_dominated else u
    lines.append(
        f"{lead}   "
        f"speed-up min/max: {format_estimate(d.speedup_min_max_ratio)} (biased low)   "
        f"worst group: {d.worst_group or 'n/a'}"
    )
    if d.floor_dominated:
        lines.append(
            "cross-entropy and KL are floor-dominated (q = 0 on tokens the target rates) for "
            + ", ".join(d.floor_dominated)
        )
    elif d.unfairness_u_kl.estimate is not None:
        lines.append(
            f"U = Var(H) {format_estimate(d.unfairness_u_entropy, 4)} (target's own entropy) + "
            f"Var(KL) {format_estimate(d.unfairness_u_kl, 4)} (drafter) + "
            f"2Cov {format_estimate(d.unfairness_u_covariance, 4)};   {u_tv}"
        )
    if result.timing is not None:
        lines.append(result.timing.summary())
    return "\n".join(lines)
