"""How many torch threads should a CPU audit use? Speed and timing noise per thread count.

    python bench/threads.py [--threads 1,2] [--rounds 2] [--n-prompts 6] [--out runs/threads]

Runs the built-in audit (all languages and tasks, ``--n-prompts`` prompts per
group) once per thread count in each of ``--rounds`` rounds, the order of
the counts reversed every other round so that a slow stretch of the machine
does not favour one count. Prints, per run, its wall time end to end, its
decoding time (the chosen timings' sum), how far its decodes scatter around
the cost model (the robust spread of plain and speculative log residuals),
how many prompts were re-timed and the largest gap between a group's modelled
and headline speed-up; then, per thread count, the medians over rounds and
their ratios to the first count. Nothing else may run on the machine
meanwhile: this is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from specaudit.metrics import compute_metrics, load_records


def _run(out: Path, threads: int, n_prompts: int) -> dict[str, float]:
    command = [sys.executable, "-m", "specaudit", "run", "--out", str(out), "--no-progress"]
    command += ["--threads", str(threads), "--n-prompts", str(n_prompts)]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    records = load_records(out / "records.jsonl")
    result = compute_metrics(records)
    timing = result.timing
    gaps = [abs(g.speedup_modelled.estimate / g.speedup.estimate - 1) for g in result.groups]
    return {
        "wall": wall,
        "decoding": sum(r["baseline_time_s"] + r["spec_time_s"] for r in records),
        "scatter_plain": timing.spread_plain,
        "scatter_spec": timing.spread_spec,
        "retimed": timing.n_retimed,
        "gap": max(gaps),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--n-prompts", type=int, default=6)
    parser.add_argument("--out", type=Path, default=Path("runs/threads"))
    args = parser.parse_args()
    counts = [int(t) for t in args.threads.split(",")]

    rows: dict[int, list[dict[str, float]]] = {t: [] for t in counts}
    header = f"{'round':>5}{'threads':>8}{'wall s':>8}{'decode s':>10}{'scatter':>16}"
    print(header + f"{'re-timed':>9}{'gap':>7}")
    for k in range(args.rounds):
        for t in counts if k % 2 == 0 else counts[::-1]:
            row = _run(args.out / f"r{k}-t{t}", t, args.n_prompts)
            rows[t].append(row)
            scatter = f"{row['scatter_plain']:.1%} / {row['scatter_spec']:.1%}"
            print(
                f"{k:>5}{t:>8}{row['wall']:>8.1f}{row['decoding']:>10.1f}{scatter:>16}"
                f"{row['retimed']:>9}{row['gap']:>7.1%}"
            )
    base = counts[0]
    median = {
        t: {key: float(np.median([r[key] for r in runs])) for key in runs[0]}
        for t, runs in rows.items()
    }
    for t in counts:
        m = median[t]
        print(
            f"{t} threads, medians: decoding {m['decoding']:.1f} s "
            f"({m['decoding'] / median[base]['decoding']:.2f}x of {base}), scatter "
            f"{m['scatter_plain']:.1%} plain / {m['scatter_spec']:.1%} speculative "
            f"({m['scatter_spec'] / median[base]['scatter_spec']:.2f}x of {base}), "
            f"largest modelled gap {m['gap']:.1%}"
        )


if __name__ == "__main__":
    main()
