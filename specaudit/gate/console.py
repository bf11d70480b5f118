"""A short plain-text summary of a gate result for the terminal."""

from __future__ import annotations

from specaudit.gate.result import GateResult, Status

__all__ = ["format_text"]


def format_text(result: GateResult) -> str:
    """List the rows that need attention, one line each, then the verdict line.

    Passing rows are only counted; every other row is listed with its
    message (estimate, interval, threshold, why).
    """
    lines = [
        f"{row.status.label}{'' if row.blocking else ' (not blocking)'}  {row.check}  {row.message}"
        for row in result.rows
        if row.status is not Status.PASS
    ]
    lines.append(f"gate: {result.verdict.label} (exit {result.exit_code}): {result.counts_text}")
    return "\n".join(lines)
