"""``specaudit tune``: route each group to the drafter and draft length predicted best.

Reads audits of one target on one prompt set, each with its own drafter (a
neural drafter, an n-gram drafter, ...), predicts every group's speed-up for
every drafter and draft length from the records alone
(:mod:`specaudit.metrics.tuning`), chooses under an objective
(:mod:`specaudit.metrics.route_choice`) and returns the routing table
(:mod:`specaudit.metrics.routing`) that ``specaudit run --routing`` verifies.
Torch-free.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from specaudit.errors import UserInputError
from specaudit.metrics import load_records
from specaudit.metrics.route_choice import Choice, Summary, choose_routes, summarise
from specaudit.metrics.routing import NO_DRAFTER, Route, RoutingTable
from specaudit.metrics.tuning import GAMMAS, LONG_EXTRAPOLATION, GroupPrediction, predict_run

__all__ = ["TuneResult", "format_tune", "tune_runs"]

#: config.yaml fields that must agree between the runs given to tune (besides the target).
_SAME = ("mode", "max_new_tokens", "chat_template", "system_prompt")


@dataclass(frozen=True)
class _Run:
    name: str
    path: Path
    config: dict[str, Any]
    records: list[dict[str, Any]]
    target: Any  #: what identifies the target (see _target_identity)


@dataclass(frozen=True)
class TuneResult:
    """What ``tune`` predicted and chose.

    Attributes
    ----------
    table : RoutingTable
        The routing file's content (its ``tune`` entry holds the predictions).
    choice : Choice
        Chosen routes and the best single setting.
    predictions : dict
        Speculative :class:`Route` -> group -> :class:`GroupPrediction`.
    groups : list of str
        Groups in the runs' order.
    routed, single : Summary
        Spread of the routed and of the best single configuration.
    audited : dict
        Drafter name -> its audit's draft length.
    """

    table: RoutingTable
    choice: Choice
    predictions: dict[Route, dict[str, GroupPrediction]]
    groups: list[str]
    routed: Summary
    single: Summary
    audited: dict[str, int]

    def predicted(self, route: Route, group: str) -> GroupPrediction | None:
        """Return the prediction of ``group`` under ``route`` (None for no speculation)."""
        return self.predictions[route][group] if route.speculative else None


def _read_run(path: Path, taken: set[str]) -> _Run:
    if not (path / "records.jsonl").is_file():
        raise UserInputError(f"{path} has no records.jsonl; give audit run directories")
    try:
        config = yaml.safe_load((path / "config.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise UserInputError(f"cannot read {path / 'config.yaml'}: {err}".splitlines()[0]) from None
    if config.get("routing"):
        raise UserInputError(
            f"{path} is a routed run; tune reads audits of one drafter and draft length each"
        )
    if config.get("backend", "native") != "native":
        raise UserInputError(
            f"{path} was audited through the {config['backend']} backend, which times no "
            "single forward; tune needs native audits (the cost model prices each forward)"
        )
    try:
        records = load_records(path / "records.jsonl")
    except (ValueError, OSError) as err:
        raise UserInputError(f"cannot read the records of {path}: {err}") from None
    if not records:
        raise UserInputError(f"{path}/records.jsonl holds no records")
    name = path.resolve().name
    base, n = name, 2
    while name in taken or name == NO_DRAFTER:
        name, n = f"{base}-{n}", n + 1
    taken.add(name)
    return _Run(name, path, config, records, _target_identity(path, config))


def _target_identity(path: Path, config: dict[str, Any]) -> Any:
    """Return what identifies the target: weights fingerprint or hub commit (environment.json).

    The built-in target reached as the default and as ``--target <its path>``
    is one target, so the spelling in config.yaml is a fallback only.
    """
    try:
        env = json.loads((path / "environment.json").read_text(encoding="utf-8"))
        target = env["models"]["target"]
    except (OSError, ValueError, KeyError, TypeError):
        return ("config", config.get("target"), config.get("revision"))
    if target.get("weights_fingerprint"):
        return ("weights", target["weights_fingerprint"])
    return ("hub", target.get("spec"), target.get("revision"), target.get("commit"))


def _check_same(runs: list[_Run]) -> None:
    first = runs[0]
    ids = sorted((r["language"], r["task"], str(r["id"])) for r in first.records)
    for run in runs[1:]:
        if run.target != first.target:
            raise UserInputError(
                f"{first.path} and {run.path} audited different targets; "
                "tune compares audits of one target on one prompt set"
            )
        for key in _SAME:
            a, b = first.config.get(key), run.config.get(key)
            if a != b:
                raise UserInputError(
                    f"{first.path} and {run.path} differ in {key} ({a!r} vs {b!r}); "
                    "tune compares audits of one target on one prompt set"
                )
        other = sorted((r["language"], r["task"], str(r["id"])) for r in run.records)
        if other != ids:
            n_diff = len(set(ids) ^ set(other))
            raise UserInputError(
                f"{first.path} and {run.path} audited different prompt sets "
                f"({n_diff} prompts in one only); audit the same prompts with each drafter"
            )


def _cross_entropy(records: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Per group, the mean cross-entropy over verified positions (method.md D)."""
    sums: dict[str, list[float]] = {}
    for r in records:
        acc = sums.setdefault(f"{r['language']}/{r['task']}", [0.0, 0.0])
        for s in r["steps"]:
            acc[0] += float(sum(s["cross_entropy"]))
            acc[1] += len(s["cross_entropy"])
    return {g: (s / n if n else float("nan")) for g, (s, n) in sums.items()}


def _rounded(x: float) -> float | None:
    return round(float(x), 4) if np.isfinite(x) else None


def _summary_dict(s: Summary) -> dict[str, Any]:
    return {
        "worst_group": s.worst_group,
        "worst": _rounded(s.worst),
        "mean": _rounded(s.mean),
        "min_max_ratio": _rounded(s.min_max_ratio),
        "speedup_variance": _rounded(s.variance),
        "unfairness_u": None if s.unfairness_u is None else _rounded(s.unfairness_u),
    }


def _prediction_dict(route: Route, p: GroupPrediction | None) -> dict[str, Any]:
    if p is None:
        return {"route": route.label(), "speedup": 1.0, "low": 1.0, "high": 1.0}
    return {
        "route": route.label(),
        "speedup": _rounded(p.estimate),
        "low": _rounded(p.low),
        "high": _rounded(p.high),
        "extrapolated": p.extrapolated,
    }


def tune_runs(
    run_dirs: Sequence[str | Path],
    *,
    objective: str = "maximin",
    by: str = "group",
    gammas: Sequence[int] = GAMMAS,
    n_boot: int = 1000,
    seed: int = 0,
    confidence_level: float = 0.95,
) -> TuneResult:
    """Predict, choose and build the routing table from audit run directories.

    Parameters
    ----------
    run_dirs : sequence of path
        Audits of the same target on the same prompts, one drafter each.
    objective : {"maximin", "mean", "mean-no-loss"}
        What the routing maximises (:mod:`specaudit.metrics.route_choice`).
    by : {"group", "language"}
        Route each (language, task) group, or each language.
    gammas : sequence of int
        Draft lengths to consider.
    n_boot, seed, confidence_level
        The bootstrap over prompts behind each interval.

    Raises
    ------
    UserInputError
        For unreadable runs, routed runs, or runs of different targets,
        settings or prompt sets.
    """
    if not run_dirs:
        raise UserInputError("give at least one audit run directory")
    taken: set[str] = set()
    runs = [_read_run(Path(p), taken) for p in run_dirs]
    _check_same(runs)
    rng = np.random.default_rng(seed)
    predictions: dict[Route, dict[str, GroupPrediction]] = {}
    cross_entropy: dict[str, dict[str, float]] = {}
    audited: dict[str, int] = {}
    groups: list[str] = []
    for run in runs:
        gamma = int(
            run.config.get("gamma") or max(s["drafted"] for r in run.records for s in r["steps"])
        )
        audited[run.name] = gamma
        preds = predict_run(
            run.records,
            gamma=gamma,
            max_new_tokens=int(
                run.config.get("max_new_tokens") or max(len(r["output_ids"]) for r in run.records)
            ),
            gammas=gammas,
            n_boot=n_boot,
            rng=rng,
            confidence_level=confidence_level,
        )
        for p in preds:
            predictions.setdefault(Route(run.name, p.gamma), {})[p.group] = p
            if p.group not in groups:
                groups.append(p.group)
        cross_entropy[run.name] = _cross_entropy(run.records)
    try:
        choice = choose_routes(
            {r: {g: p.estimate for g, p in v.items()} for r, v in predictions.items()},
            groups,
            objective=objective,
            by=by,
        )
    except ValueError as err:
        raise UserInputError(str(err)) from None

    def speedups(route_of: dict[str, Route]) -> dict[str, float]:
        return {
            g: (predictions[r][g].estimate if r.speculative else 1.0) for g, r in route_of.items()
        }

    def ces(route_of: dict[str, Route]) -> dict[str, float | None]:
        return {
            g: (cross_entropy[r.drafter].get(g) if r.speculative else None)
            for g, r in route_of.items()
        }

    single_of = dict.fromkeys(groups, choice.single)
    routed, single = (
        summarise(speedups(choice.per_group), ces(choice.per_group)),
        summarise(speedups(single_of), ces(single_of)),
    )
    tune = {
        "objective": objective,
        "by": by,
        "runs": {run.name: str(run.path) for run in runs},
        "audited_gamma": audited,
        "single": choice.single.to_dict(),
        "predicted": {
            g: _prediction_dict(r, predictions[r][g] if r.speculative else None)
            for g, r in choice.per_group.items()
        },
        "single_predicted": {
            g: _prediction_dict(choice.single, predictions[choice.single][g])
            for g in groups
            if choice.single.speculative
        },
        "summary": {"routed": _summary_dict(routed), "single": _summary_dict(single)},
        # Every candidate, so a route edited by hand is still compared with its prediction.
        "all": {
            g: {
                r.label(): [_rounded(p.estimate), _rounded(p.low), _rounded(p.high)]
                for r, by_group in predictions.items()
                for p in [by_group[g]]
            }
            for g in groups
        },
    }
    used = {r.drafter for r in choice.routes.values() if r.speculative}
    table = RoutingTable(
        drafters={run.name: run.config.get("drafter") for run in runs if run.name in used},
        routes=dict(choice.routes),
        tune=tune,
    )
    return TuneResult(table, choice, predictions, groups, routed, single, audited)


def _fmt(p: GroupPrediction | None) -> str:
    if p is None:
        return "1.00× (no speculation)"
    if not np.isfinite(p.low):
        return f"{p.estimate:.2f}× [no interval]"
    return f"{p.estimate:.2f}× [{p.low:.2f}, {p.high:.2f}]"


def format_tune(result: TuneResult) -> str:
    """Return the tune command's printout: the routing table and routed vs single setting."""
    tune = result.table.tune
    runs = ", ".join(f"{n} (audited γ={g})" for n, g in result.audited.items())
    level = "95%"
    single = result.choice.single
    lines = [
        f"tune: {len(result.audited)} run(s): {runs}; {len(result.groups)} groups; "
        f"objective {tune['objective']}, routed by {tune['by']}",
        f"{'group':<18}{'route':<16}{'predicted [' + level + ']':<28}single: {single.label()}",
    ]
    long = []
    for g in result.groups:
        route = result.choice.per_group[g]
        p = result.predicted(route, g)
        if p is not None and p.long_extrapolation:
            long.append(f"{g} ({route.label()}, {p.extrapolated} past the audit)")
        lines.append(f"{g:<18}{route.label():<16}{_fmt(p):<28}{_fmt(result.predicted(single, g))}")
    lines.append("")
    lines.append(f"{'':<22}{'routed':>16}{'best single':>16}")
    r, s = result.routed, result.single
    rows = [
        ("worst group", f"{r.worst:.3f}× {r.worst_group}", f"{s.worst:.3f}× {s.worst_group}"),
        ("mean speed-up", f"{r.mean:.3f}×", f"{s.mean:.3f}×"),
        ("min/max ratio", f"{r.min_max_ratio:.3f}", f"{s.min_max_ratio:.3f}"),
        ("speed-up variance", f"{r.variance:.4f}", f"{s.variance:.4f}"),
        (
            "U (cross-entropy)",
            "n/a" if r.unfairness_u is None else f"{r.unfairness_u:.4f}",
            "n/a" if s.unfairness_u is None else f"{s.unfairness_u:.4f}",
        ),
    ]
    for label, a, b in rows:
        lines.append(f"{label:<22}{a:>16}  {b}")
    lines.append(f"worst group: {r.worst / s.worst:.3f}x the best single setting's (predicted)")
    if not result.choice.single_feasible:
        lines.append("note: no single setting keeps every group at or above 1.0x")
    if long:
        lines.append(
            f"warning: {len(long)} route(s) extrapolate more than {LONG_EXTRAPOLATION} draft "
            "positions past the audit (rates held at the last audited position): " + "; ".join(long)
        )
    return "\n".join(lines)
