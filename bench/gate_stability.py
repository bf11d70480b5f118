"""How far do runs of the same audit move together, and which gate rows move with them?

    python bench/gate_stability.py RUN_A RUN_B [RUN_C ...] [--tolerances 0,0.03,0.05]

For every pair of runs (each with a ``metrics.json``, the same groups, the
same audit), prints the shared shift of their speed-ups: the geometric mean
over groups of the ratio of headline speed-ups, and the same for the
modelled ones. That shift is what a machine does between two runs, which no
interval of one run covers, and what the gate's ``timing_tolerance`` is
meant to allow for. Then, under the example gate policy with each
tolerance in ``--tolerances``, the failing checks of each run and the rows
whose status differs between the two. Reads metrics only: cheap to run
beside nothing, and it decodes nothing.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np

from specaudit.gate.policy import GatePolicy, example_policy_path, load_policy
from specaudit.gate.runner import evaluate_gate
from specaudit.metrics import MetricsResult


def _shift(a: MetricsResult, b: MetricsResult, attribute: str) -> float:
    """Geometric mean over groups of b's speed-up over a's, minus 1."""
    logs = [
        np.log(getattr(b.group(g.group), attribute).estimate / getattr(g, attribute).estimate)
        for g in a.groups
    ]
    return float(np.expm1(np.mean(logs)))


def example_policy(tolerance: float | None = None) -> GatePolicy:
    """Return the example gate policy, with its timing tolerance replaced if one is given."""
    policy = load_policy(example_policy_path())
    if tolerance is None:
        return policy
    defaults = policy.defaults.model_copy(update={"timing_tolerance": tolerance})
    return policy.model_copy(update={"defaults": defaults})


def _statuses(result: MetricsResult, run_dir: Path, tolerance: float) -> dict[str, str]:
    gate = evaluate_gate(example_policy(tolerance), result, run_dir=str(run_dir))
    return {f"{r.check}:{r.subject}": r.status.value for r in gate.rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--tolerances", default="0,0.03,0.05")
    args = parser.parse_args()
    tolerances = [float(t) for t in args.tolerances.split(",")]
    results = {run: MetricsResult.read(run) for run in args.runs}
    statuses = {
        (run, t): _statuses(result, run, t) for run, result in results.items() for t in tolerances
    }
    for run in args.runs:
        counts = ", ".join(
            f"{sum(s == 'fail' for s in statuses[run, t].values())} at {t:g}" for t in tolerances
        )
        print(f"{run}: failing checks {counts}")
    for a, b in itertools.combinations(args.runs, 2):
        ra, rb = results[a], results[b]
        print(
            f"{b} against {a}: shared shift {_shift(ra, rb, 'speedup'):+.1%} (headline), "
            f"{_shift(ra, rb, 'speedup_modelled'):+.1%} (modelled)"
        )
        for t in tolerances:
            sa, sb = statuses[a, t], statuses[b, t]
            moved = sorted(k for k in sa if sa[k] != sb[k] and "fail" in (sa[k], sb[k]))
            text = "; ".join(f"{k} {sa[k]} -> {sb[k]}" for k in moved) or "none"
            print(f"  tolerance {t:g}: failing checks that differ: {text}")


if __name__ == "__main__":
    main()
