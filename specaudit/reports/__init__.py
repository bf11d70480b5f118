"""Reports of a metrics result: the terminal summary and the self-contained HTML reports.

Typical use::

    from specaudit.reports import render_comparison, render_report

    render_report("runs/x")                           # runs/x/report.html
    render_comparison("runs/after", "runs/before")    # runs/after/report.html

Reports read a run directory only: ``metrics.json`` and ``prompts.csv``
through :class:`specaudit.metrics.MetricsResult`, ``config.yaml`` and
``environment.json`` as plain YAML/JSON (and, for comparisons,
``records.jsonl`` through :mod:`specaudit.metrics`). They never import the
audit or mitigation packages, torch or transformers; seaborn and matplotlib
are imported inside the plotting functions only.
"""

from specaudit.reports.compare import Comparison, GroupChange, compare_runs
from specaudit.reports.context import ReportContext, build_context
from specaudit.reports.html import render_comparison, render_report
from specaudit.reports.rundata import RunData, load_run

__all__ = [
    "Comparison",
    "GroupChange",
    "ReportContext",
    "RunData",
    "build_context",
    "compare_runs",
    "load_run",
    "render_comparison",
    "render_report",
]
