"""The report's Tuning section: routed settings, predicted against verified speed-up.

Shown for a routed run (``specaudit run --routing``), whose directory keeps
the routing file as ``routing.yaml``. When that file came from ``specaudit
tune`` it holds the predictions, and each group's verified speed-up (this
run's headline, robust speed-up) stands beside its prediction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from specaudit.errors import UserInputError
from specaudit.metrics import MetricsResult
from specaudit.metrics.routing import load_routing
from specaudit.reports.formatting import Value, fmt, value

__all__ = ["TuningRow", "TuningView", "tuning_view"]


@dataclass(frozen=True)
class TuningRow:
    """One group of the Tuning table."""

    key: str
    route: str
    predicted: Value  #: predicted speed-up and interval ("n/a" without a tune record)
    verified: Value  #: this run's speed-up and interval
    error: Value  #: (predicted - verified) / verified
    single: Value  #: predicted speed-up under the best single setting


@dataclass(frozen=True)
class TuningView:
    """The Tuning section."""

    objective: str  #: e.g. "maximin", or "" for a hand-written routing file
    single: str  #: the best single setting, e.g. "neural γ=4"
    rows: tuple[TuningRow, ...]
    sentences: tuple[str, ...]


def _predicted(entry: dict | None) -> Value:
    if not entry or entry.get("speedup") is None:
        return Value("n/a", "", None)
    low, high = entry.get("low"), entry.get("high")
    interval = f"[{fmt(low)}, {fmt(high)}]" if low is not None and high is not None else ""
    return Value(fmt(entry["speedup"], 2, "×"), interval, float(entry["speedup"]))


def tuning_view(run_dir: str | Path, result: MetricsResult) -> TuningView | None:
    """Build the section from ``run_dir/routing.yaml``; None for an unrouted run."""
    path = Path(run_dir) / "routing.yaml"
    if not path.is_file():
        return None
    try:
        table = load_routing(path)
        routes = table.resolve(g.group for g in result.groups)
    except ValueError as err:
        raise UserInputError(str(err)) from None
    tune = table.tune
    predicted = tune.get("predicted") or {}
    single = tune.get("single_predicted") or {}
    rows, errors, verified_of = [], [], {}
    every = tune.get("all") or {}
    for g in result.groups:
        label = routes[g.group].label()
        entry = predicted.get(g.group)
        if entry is not None and entry.get("route") != label:  # edited after tune
            entry = None
        found = (every.get(g.group) or {}).get(label)
        if label == "none" and tune:
            entry = {"speedup": 1.0, "low": 1.0, "high": 1.0}
        elif found:
            entry = {"speedup": found[0], "low": found[1], "high": found[2]}
        pred = _predicted(entry)
        verified = value(g.speedup, 2, "×")
        v = g.speedup.estimate
        verified_of[g.group] = v
        err = None
        if pred.sort is not None and v:
            err = (pred.sort - v) / v
            errors.append(abs(err))
        rows.append(
            TuningRow(
                key=g.group,
                route=label,
                predicted=pred,
                verified=verified,
                error=Value(fmt(None if err is None else 100 * err, 1, "%"), "", err),
                single=_predicted(single.get(g.group)),
            )
        )
    sentences = []
    finite = {k: v for k, v in verified_of.items() if v is not None and math.isfinite(v)}
    if finite:
        worst = min(finite, key=finite.get)
        sentences.append(f"Verified worst group: {worst} at {finite[worst]:.2f}×.")
    if errors:
        sentences.append(
            f"Median |predicted − verified| / verified over {len(errors)} groups: "
            f"{100 * float(np.median(errors)):.1f}%."
        )
    if not predicted:
        sentences.append("The routing file holds no predictions (it did not come from tune).")
    single_label = ""
    if tune.get("single"):
        s = tune["single"]
        single_label = f"{s['drafter']} γ={s['gamma']}" if s.get("gamma") else str(s["drafter"])
    return TuningView(str(tune.get("objective", "")), single_label, tuple(rows), tuple(sentences))
