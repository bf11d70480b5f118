"""A Markdown summary of a gate result, for pull requests and CI job pages.

Statuses are written in words *and* symbols (``✅ pass``, ``❌ fail``,
``⚠️ warning``, ``❔ inconclusive``), never by colour or symbol alone. Rows
that block the release come first. On GitHub Actions the summary is also
appended to the file named by ``GITHUB_STEP_SUMMARY``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from specaudit.gate.result import CheckResult, GateResult, Status, format_number

__all__ = ["append_step_summary", "markdown_summary", "write_summary"]

_ORDER = {Status.FAIL: 0, Status.INCONCLUSIVE: 1, Status.WARNING: 2, Status.PASS: 3}
_VERDICT = {
    Status.PASS: "passed",
    Status.FAIL: "failed",
    Status.INCONCLUSIVE: "inconclusive",
    Status.WARNING: "passed with warnings",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _row(row: CheckResult) -> str:
    cells = [
        row.status.label,
        "yes" if row.blocking else "no",
        row.check,
        f"`{row.subject}`",
        row.quantity,
        format_number(row.estimate),
        row.interval_text,
        row.threshold_text,
        row.explanation,
    ]
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def markdown_summary(result: GateResult) -> str:
    """Render a gate result as Markdown: a headline, counts and one table.

    Parameters
    ----------
    result : GateResult
        The gate's decisions.

    Returns
    -------
    str
        Ends with a newline.
    """
    verdict = result.verdict
    headline = _VERDICT[verdict]
    if verdict is Status.PASS and result.count(Status.WARNING):
        headline = _VERDICT[Status.WARNING]
    lines = [
        f"## specaudit release gate: {verdict.label} ({headline}, exit {result.exit_code})",
        "",
        f"Run `{result.run_dir}` · policy `{result.policy}` · reference "
        f"`{result.reference}` · {result.confidence_level:.0%} intervals"
        + (f" · baseline `{result.baseline_dir}`" if result.baseline_dir else ""),
        "",
        f"**{result.counts_text}**",
    ]
    blocking_inconclusive = [
        r for r in result.rows if r.blocking and r.status is Status.INCONCLUSIVE
    ]
    if blocking_inconclusive:
        effect = {
            "block": "block the release until decided (exit 4 if nothing fails): "
            "audit more prompts",
            "fail": "count as failures (--inconclusive fail)",
            "pass": "are let through (--inconclusive pass)",
        }[result.inconclusive]
        lines += ["", f"{len(blocking_inconclusive)} inconclusive row(s) {effect}."]
    failing = sorted({r.subject for r in result.rows if r.blocking and r.status is Status.FAIL})
    if failing:
        lines += ["", "Failing groups: " + ", ".join(f"`{g}`" for g in failing)]
    lines += [
        "",
        "| Status | Blocks | Check | Group | Figure | Estimate | Interval | Threshold | Why |",
        "|---|---|---|---|---|---:|---|---|---|",
    ]
    ordered = sorted(enumerate(result.rows), key=lambda ir: (_ORDER[ir[1].status], ir[0]))
    lines += [_row(row) for _, row in ordered]
    if result.notes:
        lines += ["", *[f"- {note}" for note in result.notes]]
    return "\n".join(lines) + "\n"


def write_summary(result: GateResult, path: str | os.PathLike[str]) -> Path:
    """Write :func:`markdown_summary` to ``path`` (parent directories created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(markdown_summary(result), encoding="utf-8")
    return path


def append_step_summary(result: GateResult, env: Mapping[str, str] | None = None) -> Path | None:
    """Append the summary to ``$GITHUB_STEP_SUMMARY`` when it is set.

    Parameters
    ----------
    result : GateResult
        The gate's decisions.
    env : mapping, optional
        The environment to read; defaults to ``os.environ``.

    Returns
    -------
    Path or None
        The file appended to, or ``None`` outside GitHub Actions.
    """
    target = (os.environ if env is None else env).get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    path = Path(target)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(markdown_summary(result) + "\n")
    return path
