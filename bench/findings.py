"""Regenerate docs/findings.md: the seeds' findings, measured on this machine.

Runs ``specaudit mitigate --strategy all`` on the demo pair (resumable: a
finished run is only re-read; it takes about as long as
``bench/mitigation.py``) and writes ``docs/findings.md`` with the date, the
machine and one table per finding:

(a) disparity by language: each group's speed-up and acceptance rate with
    intervals, and U with its decomposition, for the original drafter;
(b) task-specific fine-tuning (``task``, translation data only) against the
    original drafter, per task: it helps translation but not the held-out
    story task;
(c) the n-gram drafter against the neural one, per group: acceptance rates,
    and the n-gram's speed-up relative to the neural drafter's;
(d) s-CDF against balanced fine-tuning: U on cross-entropy, U on KL, the
    decomposition and U on total variation.

Usage::

    python bench/findings.py [--out runs/findings] [--render-only]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import sys
from pathlib import Path

from mitigation import run_all_strategies

from specaudit.metrics import MetricsResult
from specaudit.reports import compare_runs, load_run
from specaudit.reports.console import format_estimate as _e

DOC = Path(__file__).resolve().parents[1] / "docs" / "findings.md"


def _machine(run: Path) -> str:
    env = json.loads((run / "environment.json").read_text(encoding="utf-8"))
    cpu = env.get("cpu") or env.get("processor") or platform.processor() or "unknown CPU"
    return f"{env.get('device', 'cpu')}, {cpu}, {env.get('cpu_count', '?')} cores"


def _disparity(before: MetricsResult) -> list[str]:
    lines = [
        "## (a) Disparity by language (original drafter)",
        "",
        "| group | acceptance_rate | speed-up |",
        "|---|---|---|",
    ]
    for g in before.groups:
        lines.append(f"| {g.group} | {_e(g.acceptance_rate)} | {_e(g.speedup, 2, '×')} |")
    d = before.disparity
    lines += ["", *_u_table([("original", d)])]
    return lines


def _u_table(rows: list[tuple[str, object]]) -> list[str]:
    lines = [
        "| drafter | U (cross-entropy) | Var(H) | U on KL | 2 Cov(H, KL) | U on TV |",
        "|---|---|---|---|---|---|",
    ]
    for name, d in rows:
        floor = " (floor-dominated)" if d.floor_dominated else ""
        lines.append(
            f"| {name} | {_e(d.unfairness_u, 4)}{floor} | {_e(d.unfairness_u_entropy, 4)} "
            f"| {_e(d.unfairness_u_kl, 4)} | {_e(d.unfairness_u_covariance, 4)} "
            f"| {_e(d.unfairness_u_tv, 4)} |"
        )
    return lines


def _task(out: Path, before: Path) -> list[str]:
    c = compare_runs(load_run(out / "task" / "audit"), load_run(before))
    lines = [
        "## (b) Task-specific fine-tuning (translation data only) against the original",
        "",
        "| task | mean speed-up before | after | change (after / before) |",
        "|---|---|---|---|",
    ]
    for m in c.by_task:
        lines.append(f"| {m.label} | {m.before:.3f}× | {m.after:.3f}× | {_e(m.ratio, 3, '×')} |")
    return lines


def _ngram(out: Path, before: Path) -> list[str]:
    c = compare_runs(load_run(out / "ngram" / "audit"), load_run(before))
    neural = MetricsResult.read(before)
    ngram = MetricsResult.read(out / "ngram" / "audit")
    lines = [
        "## (c) n-gram drafter against the neural drafter",
        "",
        "| group | acceptance neural | acceptance n-gram | n-gram speed-up / neural |",
        "|---|---|---|---|",
    ]
    for g in c.groups:
        lines.append(
            f"| {g.group} | {_e(neural.group(g.group).acceptance_rate)} "
            f"| {_e(ngram.group(g.group).acceptance_rate)} | {_e(g.speedup_ratio, 3, '×')} |"
        )
    return lines


def _scdf(out: Path, before: MetricsResult) -> list[str]:
    rows = [("original", before.disparity)]
    for name in ("balanced", "scdf"):
        rows.append((name, MetricsResult.read(out / name / "audit").disparity))
    return ["## (d) s-CDF against balanced fine-tuning", "", *_u_table(rows)]


def render(out: Path, doc: Path = DOC) -> Path:
    """Write ``doc`` from a finished ``mitigate --strategy all`` directory ``out``."""
    payload = json.loads((out / "strategies.json").read_text(encoding="utf-8"))
    before_dir = Path(payload["before"])
    before = MetricsResult.read(before_dir)
    lines = [
        "# Findings, regenerated",
        "",
        f"Written by `python bench/findings.py --out {out}` on "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; machine: {_machine(before_dir)}.",
        "Intervals are the audits' 95% bootstrap intervals (docs/method.md#uncertainty); "
        "U and its parts are defined in docs/method.md#u-decomposition.",
        "",
        *_disparity(before),
        "",
        *_task(out, before_dir),
        "",
        *_ngram(out, before_dir),
        "",
        *_scdf(out, before),
        "",
    ]
    doc.write_text("\n".join(lines), encoding="utf-8")
    return doc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/findings"))
    parser.add_argument("--render-only", action="store_true", help="only re-read a finished run")
    args = parser.parse_args()
    if not args.render_only:
        run_all_strategies(args.out)
    print(f"wrote {render(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
