"""Does a noisy neighbour change the audit's verdict? The default audit, quiet and disturbed.

    python bench/noise.py [--out runs/noise] [--reuse] [--burst 1.0] [--period 4.0] [--threads N]

Runs the default audit (``specaudit run``) twice on this machine: once
quietly, then beside a noisy neighbour, a process that takes every core in
bursts of about ``--burst`` seconds every ``--period`` seconds (jittered), the
way a co-tenant's job does on a shared CI runner or GPU node. Prints, per
group, both runs' headline (robust) and modelled speed-ups and the raw ratio
of summed measured times; the change every group shares (the machine's) and
each group's change against it; each run's fitted plain-step and verify
costs; each run's first timings (their decoding time, and what the first
re-timing look found in them: outliers against the cost model, prompts
timed beside other processes); how the noisy run's chosen timings differ
from the quiet run (first timings kept, and re-timings by decode order;
the first tell what the neighbour did to the machine between its bursts,
as those were timed with no other process busy); each run's worst group and
timing health; and the failing checks of the example gate policy for both
runs, and how many of them a run reverses (fail against pass) or leaves
inconclusive; then the failing checks again with the policy's
``timing_tolerance`` set to 0, to show what the tolerance changes.
Nothing else may run on the machine meanwhile: this is a
benchmark, not a test.

``--reuse`` keeps finished runs in ``--out`` (each run resumes otherwise);
``--threads`` passes a torch thread count to both audits (default: the
audit's own, all cores but one).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import yaml

# Run as ``python bench/noise.py``: its own folder is on the path.
from gate_stability import example_policy

from specaudit.audit.retime import attempt_contended
from specaudit.gate.runner import evaluate_gate
from specaudit.metrics import MetricsResult, compute_metrics, load_records
from specaudit.metrics.timing import timing_assessment
from specaudit.records import PromptRecord, apply_choice


def _burn(stop, burst_s: float, period_s: float, seed: int) -> None:
    """One core's share of the neighbour: spin for a burst, then sleep, until told to stop."""
    rng = random.Random(seed)
    while not stop.is_set():
        time.sleep(max(0.0, period_s - burst_s) * rng.uniform(0.5, 1.5))
        end = time.perf_counter() + burst_s * rng.uniform(0.7, 1.3)
        x = 0
        while time.perf_counter() < end:
            x += 1


class Neighbour:
    """A process per core that burns CPU in bursts (a context manager)."""

    def __init__(self, burst_s: float, period_s: float) -> None:
        self.burst_s, self.period_s = burst_s, period_s
        self.stop = mp.Event()
        self.procs: list[mp.Process] = []

    def __enter__(self) -> Neighbour:
        # The bursts of all cores start together, like one multi-threaded job.
        for i in range(os.cpu_count() or 1):
            p = mp.Process(target=_burn, args=(self.stop, self.burst_s, self.period_s, i))
            p.start()
            self.procs.append(p)
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for p in self.procs:
            p.join(timeout=10)


def _audit(out: Path, *, reuse: bool, threads: int | None) -> tuple[MetricsResult, float]:
    if not (reuse and (out / "metrics.json").exists()):
        start = time.perf_counter()
        command = [sys.executable, "-m", "specaudit", "run", "--out", str(out), "--no-progress"]
        if threads is not None:
            command += ["--threads", str(threads)]
        if out.exists():
            command.append("--resume")
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        elapsed = time.perf_counter() - start
    else:
        elapsed = float("nan")
    return compute_metrics(load_records(out / "records.jsonl")), elapsed


def _against_quiet(quiet_dir: Path, noisy_dir: Path) -> None:
    """Print how the noisy run's chosen timings differ from the quiet run.

    Per prompt: the log of its chosen plain/speculative ratio less the quiet
    run's, averaged over the prompts whose first timing was kept and over
    those whose re-timing was, per decode order. A re-timing that starts
    cold after its wait for quiet CPUs slows the decode that goes first,
    which shows as a plain-first excess.
    """
    quiet = {r["id"]: r for r in load_records(quiet_dir / "records.jsonl")}
    diffs: dict[str, list[float]] = {}
    for record in load_records(noisy_dir / "records.jsonl"):
        chosen = record["timing_attempts"][record["timing_chosen"]["plain"]]
        if record["id"] not in quiet:
            continue
        retimed = chosen["reason"] == "retime"
        key = f"chosen re-timings, {chosen['order']}" if retimed else "first timings kept"
        ratio = np.log(chosen["plain_time_s"] / chosen["spec_time_s"])
        base = np.log(quiet[record["id"]]["baseline_time_s"] / quiet[record["id"]]["spec_time_s"])
        diffs.setdefault(key, []).append(ratio - base)
    for key, values in sorted(diffs.items()):
        x = np.array(values)
        se = x.std(ddof=1) / np.sqrt(len(x)) if len(x) > 1 else float("nan")
        print(
            f"noisy run's {key}: {len(x)} prompts, speed-up against "
            f"the quiet run's {np.expm1(x.mean()):+.1%} (s.e. {se:.1%})"
        )


def _first_look(run_dir: Path) -> str:
    """What the re-timing pass's first look saw: outliers and contended prompts.

    Each record is set back to its first timing (``apply_choice``) and judged
    as the metrics judge chosen timings; the audit's time grows with how many
    prompts this look sends to re-timing. Contended prompts are sent only by
    a run timed back to back (``timing: sequential``; runs older than the
    setting were): interleaved, a burst slows both decodes alike.
    """
    records = [PromptRecord.from_dict(r) for r in load_records(run_dir / "records.jsonl")]
    first = [asdict(apply_choice(r, plain=0, spec=0)) for r in records]
    flags = timing_assessment(first).flags
    busy = np.array([attempt_contended(r.timing_attempts[0]) for r in records])
    fences = "/".join(f"{np.exp(flags.fence[k]):.2f}" for k in ("plain", "spec"))
    decoding = sum(r["baseline_time_s"] + r["spec_time_s"] for r in first)
    n_outliers, n_busy = int(flags.any.sum()), int(busy.sum())
    config = yaml.safe_load((run_dir / "config.yaml").read_text()) or {}
    sent = flags.any | busy if config.get("timing", "sequential") == "sequential" else flags.any
    return (
        f"{decoding:.0f} s of decoding, {n_outliers} outliers (fences {fences}), {n_busy} "
        f"timed beside other processes, {int(sent.sum())} to re-time"
    )


def _failing(result: MetricsResult, run_dir: Path, *, tolerance: float | None = None) -> list[str]:
    gate = evaluate_gate(example_policy(tolerance), result, run_dir=str(run_dir))
    rows = [r for r in gate.rows if r.status.value in ("fail", "warning", "inconclusive")]
    return sorted(f"{r.check}:{r.subject}:{r.status.value}" for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/noise"))
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--burst", type=float, default=1.0)
    parser.add_argument("--period", type=float, default=4.0)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()

    quiet, quiet_s = _audit(args.out / "quiet", reuse=args.reuse, threads=args.threads)
    with Neighbour(args.burst, args.period):
        noisy, noisy_s = _audit(args.out / "noisy", reuse=args.reuse, threads=args.threads)

    threads = json.loads((args.out / "quiet" / "environment.json").read_text())["threads"]
    print(
        f"cores: {os.cpu_count()}; torch threads: {threads}; "
        f"neighbour: {args.burst} s bursts every ~{args.period} s"
    )
    print(f"audit time: quiet {quiet_s:.0f} s, noisy {noisy_s:.0f} s")
    header = f"{'group':<16}{'quiet':>8}{'model':>8}{'raw':>8}  {'noisy':>8}{'model':>8}{'raw':>8}"
    print(header + f"{'noisy/quiet':>13}")
    worst_change, log_changes = 0.0, []
    for q in quiet.groups:
        n = noisy.group(q.group)
        change = n.speedup.estimate / q.speedup.estimate - 1.0
        worst_change = max(worst_change, abs(change))
        log_changes.append(np.log1p(change))
        print(
            f"{q.group:<16}{q.speedup.estimate:>8.3f}{q.speedup_modelled.estimate:>8.3f}"
            f"{q.speedup_raw.estimate:>8.3f}  {n.speedup.estimate:>8.3f}"
            f"{n.speedup_modelled.estimate:>8.3f}{n.speedup_raw.estimate:>8.3f}{change:>+13.1%}"
        )
    gaps = [abs(g.speedup_modelled.estimate / g.speedup.estimate - 1) for g in quiet.groups]
    print(f"largest headline change, noisy against quiet: {worst_change:.2%}")
    # A change shared by every group is the machine's, not a group's: the
    # disparity figures (groups against each other) do not see it.
    shift = float(np.mean(log_changes))
    relative = np.abs(np.expm1(np.asarray(log_changes) - shift))
    print(
        f"shared shift of every group (geometric mean): {np.expm1(shift):+.1%}; "
        f"largest change against it: {relative.max():.1%} (median {np.median(relative):.1%})"
    )
    for name, result in (("quiet", quiet), ("noisy", noisy)):
        gamma = result.settings.gamma
        for m in result.timing.cost_models:
            verify = m.verify_fixed_s + m.verify_per_token_s * (gamma + 1)
            print(
                f"{name}: cost model on {m.device}: plain step {1e3 * m.plain_step_s:.2f} ms, "
                f"verify of {gamma + 1} tokens {1e3 * verify:.2f} ms "
                f"({verify / m.plain_step_s:.2f} plain steps)"
            )
    print(f"largest modelled/headline gap, quiet run: {max(gaps):.2%}")
    _against_quiet(args.out / "quiet", args.out / "noisy")
    for name, result in (("quiet", quiet), ("noisy", noisy)):
        print(f"{name}: first look: {_first_look(args.out / name)}")
        print(f"{name}: worst group {result.disparity.worst_group}; {result.timing.summary()}")
    failing = {
        name: _failing(r, args.out / name) for name, r in (("quiet", quiet), ("noisy", noisy))
    }
    print(f"example policy, quiet run: {len(failing['quiet'])} rows not passing")
    for row in failing["quiet"]:
        print(f"  {row}")
    # The target is on the failing checks; a row moving between inconclusive
    # and pass (an interval that touches its threshold) is listed too.
    fails = {name: [row for row in rows if row.endswith(":fail")] for name, rows in failing.items()}
    same_fails = fails["quiet"] == fails["noisy"]
    print(
        f"failing checks: {len(fails['quiet'])} quietly, {len(fails['noisy'])} beside the "
        f"neighbour: {'identical' if same_fails else 'DIFFERENT'}"
    )
    # A check that fails in one run and passes in the other reverses the
    # verdict; one that turns inconclusive only widens its interval (and still
    # blocks under --inconclusive block).
    status = {name: dict(row.rsplit(":", 1) for row in rows) for name, rows in failing.items()}
    changed = [
        (status["quiet"].get(key, "pass"), status["noisy"].get(key, "pass"))
        for key in sorted(set(status["quiet"]) | set(status["noisy"]))
    ]
    reversed_ = sum({q, n} == {"fail", "pass"} for q, n in changed)
    widened = sum({q, n} == {"fail", "inconclusive"} for q, n in changed)
    print(
        f"checks failing in one run and passing in the other: {reversed_}; "
        f"failing in one run and inconclusive in the other: {widened}"
    )
    same = failing["quiet"] == failing["noisy"]
    print(f"rows not passing, noisy run: {'identical' if same else 'DIFFERENT'}")
    if not same:
        for row in sorted(set(failing["quiet"]) ^ set(failing["noisy"])):
            where = "quiet only" if row in failing["quiet"] else "noisy only"
            print(f"  {where}: {row}")
    tolerance = example_policy().defaults.timing_tolerance
    bare = {
        name: [row for row in _failing(r, args.out / name, tolerance=0.0) if row.endswith(":fail")]
        for name, r in (("quiet", quiet), ("noisy", noisy))
    }
    print(
        f"failing checks with timing_tolerance 0 (the policy's is {tolerance:g}): "
        f"{len(bare['quiet'])} quietly, {len(bare['noisy'])} beside the neighbour: "
        f"{'identical' if bare['quiet'] == bare['noisy'] else 'DIFFERENT'}"
    )
    for row in sorted(set(bare["quiet"]) ^ set(bare["noisy"])):
        print(f"  {'quiet only' if row in bare['quiet'] else 'noisy only'}: {row}")


if __name__ == "__main__":
    main()
