"""Helpers shared by the command modules: error handling and run outputs."""

from __future__ import annotations

import functools
from pathlib import Path

import typer

from specaudit.errors import SpecAuditError

__all__ = [
    "EXIT_INTERRUPTED",
    "csv_list",
    "errors_to_exit",
    "write_metrics",
    "write_report",
]

#: Exit code after Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130


def errors_to_exit(func):
    """Turn library errors into ``error: …`` on stderr and their exit code."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except SpecAuditError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(err.exit_code) from None

    return wrapper


def csv_list(value: str | None) -> list[str] | None:
    """Split a comma-separated option; None or blank gives None."""
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    return items or None


def write_metrics(run_dir: Path, *, summary: bool = True, **options) -> None:
    """Compute metrics from ``records.jsonl`` alone, write them and print a summary."""
    from specaudit.pipeline import compute_metrics
    from specaudit.reports.console import format_summary

    result = compute_metrics(run_dir, **options)
    paths = result.write(run_dir)
    if summary:
        typer.echo(format_summary(result))
    typer.echo("metrics: " + ", ".join(str(p) for p in paths))


def write_report(
    run_dir: Path,
    *,
    compare: Path | None = None,
    out: Path | None = None,
    gate=None,
    training: Path | None = None,
) -> Path:
    """Write the HTML report of ``run_dir`` (before/after with ``compare``) and say where."""
    from specaudit.reports import render_comparison, render_report

    if compare is None:
        path = render_report(run_dir, gate=gate, out=out)
    else:
        path = render_comparison(run_dir, compare, out=out, training=training)
    typer.echo(f"report: {path}")
    return path
