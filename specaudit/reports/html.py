"""Render the self-contained HTML reports and write them atomically.

The templates live in ``specaudit/reports/templates/`` and are rendered by
one jinja2 ``Environment`` with autoescaping on: every prompt, output, group
name and config value is escaped; only the SVG plots (made by matplotlib,
which escapes its own text) are inserted as markup. CSS and the one small
script (sortable tables, open examples for printing) are inlined. A
Content-Security-Policy allows no network access at all, and only that one
script (by its hash), so the file opens offline and nothing in it can
phone home.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from specaudit.atomic import write_atomic
from specaudit.reports.compare import compare_runs
from specaudit.reports.compare_context import build_comparison_context
from specaudit.reports.context import build_context
from specaudit.reports.rundata import load_run

if TYPE_CHECKING:
    import jinja2

    from specaudit.gate import GateResult

__all__ = ["DATA_FILES", "REPORT_NAME", "render_comparison", "render_report"]

#: Default file name, inside the (after) run directory.
REPORT_NAME = "report.html"
#: A comparison sits beside the after run's own report instead of replacing it.
COMPARISON_NAME = "comparison.html"
#: The machine-readable files a report links to, relative to its own location.
DATA_FILES: tuple[str, ...] = ("metrics.json", "groups.csv", "prompts.csv")


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("specaudit.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _static(name: str) -> str:
    env = _environment()
    source, _, _ = env.loader.get_source(env, name)  # type: ignore[union-attr]
    return source


def render_page(template: str, **context: Any) -> str:
    from markupsafe import Markup

    from specaudit import __version__

    script = _static("report.js")
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    return (
        _environment()
        .get_template(template)
        .render(
            css=Markup(_static("style.css")),
            script=Markup(script),
            script_hash=f"sha256-{digest}",
            version=__version__,
            **context,
        )
    )


def _out_path(run_dir: Path, out: str | os.PathLike[str] | None, name: str = REPORT_NAME) -> Path:
    if out is None:
        return run_dir / name
    out = Path(out)
    return out / name if out.is_dir() else out


def _links(run_dir: Path, out: Path) -> tuple[tuple[str, str], ...]:
    """(name, relative URL) of each data file of ``run_dir`` that exists, seen from ``out``."""
    links = []
    for name in DATA_FILES:
        target = run_dir / name
        if target.is_file():
            rel = os.path.relpath(target.resolve(), out.resolve().parent)
            links.append((name, quote(Path(rel).as_posix())))
    return tuple(links)


def render_report(
    run_dir: str | os.PathLike[str],
    *,
    gate: GateResult | Mapping[str, Any] | None = None,
    out: str | os.PathLike[str] | None = None,
) -> Path:
    """Write the HTML fairness report of one run.

    Parameters
    ----------
    run_dir : path
        A run directory with ``metrics.json`` (and ``prompts.csv``,
        ``config.yaml``, ``environment.json`` when present).
    gate : GateResult or dict, optional
        A gate result to show in the verdict section.
    out : path, optional
        The report file (or a directory for ``report.html``); default
        ``RUN_DIR/report.html``.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    UserInputError
        If the run directory or its metrics are missing or unreadable.
    """
    from specaudit.reports.plots import run_plots
    from specaudit.reports.quality_plots import acceptance_quality_plot
    from specaudit.reports.tuning import tuning_view

    run = load_run(run_dir)
    path = _out_path(run.run_dir, out)
    context = build_context(run, gate=gate)
    text = render_page(
        "report.html.j2",
        title=context.title,
        ctx=context,
        plots=run_plots(run.result),
        quality_plot=acceptance_quality_plot(run.result),
        tuning=tuning_view(run.run_dir, run.result),
        links=_links(run.run_dir, path),
    )
    return write_atomic(path, text)


def render_comparison(
    after_dir: str | os.PathLike[str],
    before_dir: str | os.PathLike[str],
    *,
    out: str | os.PathLike[str] | None = None,
    training: str | os.PathLike[str] | None = None,
) -> Path:
    """Write the before/after HTML report of two runs over the same groups.

    Parameters
    ----------
    after_dir, before_dir : path
        The two run directories (``metrics.json`` and ``records.jsonl`` each).
    out : path, optional
        The report file (or a directory for ``comparison.html``); default
        ``AFTER_DIR/comparison.html``, beside the after run's own report.
    training : path, optional
        A mitigation's ``training.csv``: its curves get their own section.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    UserInputError
        If a run is missing or unreadable, or the runs' groups differ (the
        message names the groups only one run has).
    """
    from specaudit.reports.compare_plots import comparison_plots

    after, before = load_run(after_dir), load_run(before_dir)
    comparison = compare_runs(after, before)
    path = _out_path(after.run_dir, out, COMPARISON_NAME)
    context = build_comparison_context(comparison)
    curves = ()
    if training is not None:
        from specaudit.reports.training_plots import read_training_log, training_plots

        card = Path(training).with_name("training_card.json")
        best = json.loads(card.read_text())["training"]["best_step"] if card.is_file() else None
        curves = training_plots(read_training_log(training), best_step=best)
    text = render_page(
        "comparison.html.j2",
        title=context.title,
        ctx=context,
        plots=comparison_plots(comparison),
        training_plots=curves,
        links=_links(after.run_dir, path),
        before_links=_links(before.run_dir, path),
    )
    return write_atomic(path, text)
