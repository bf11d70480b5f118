"""Cross-check a vLLM-backend run against a native run of the same prompts.

Usage: python bench/vllm_crosscheck.py NATIVE_RUN VLLM_RUN

For the prompts whose greedy outputs agree token for token, prints each
group's pooled acceptance sum n_t / sum (n_t + rejections) from both runs and
the difference (docs/serving.md, the ±0.02 target of issue 19).
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

from specaudit.metrics import load_records


def acceptance(records, keep) -> dict[str, float]:
    """Pooled acceptance per group over the prompts in ``keep``."""
    accepted, trials = defaultdict(int), defaultdict(int)
    for r in records:
        if r["id"] in keep:
            g = f"{r['language']}/{r['task']}"
            for s in r["steps"]:
                accepted[g] += s["accepted"]
                trials[g] += s["accepted"] + int(s["rejected"])
    return {g: accepted[g] / trials[g] for g in trials if trials[g]}


def main(native_dir: str, served_dir: str) -> None:
    native = {r["id"]: r for r in load_records(Path(native_dir) / "records.jsonl")}
    served = load_records(Path(served_dir) / "records.jsonl")
    agree = {r["id"] for r in served if r["output_ids"] == native[r["id"]]["output_ids"]}
    a_native, a_served = acceptance(native.values(), agree), acceptance(served, agree)
    print(f"outputs agree on {len(agree)}/{len(served)} prompts")
    print(f"{'group':<16}{'n':>4}{'native':>9}{'vllm':>9}{'diff':>9}")
    worst = 0.0
    for g in sorted(a_served):
        n = sum(1 for r in served if r["id"] in agree and f"{r['language']}/{r['task']}" == g)
        d = a_served[g] - a_native[g]
        worst = max(worst, abs(d))
        print(f"{g:<16}{n:>4}{a_native[g]:>9.3f}{a_served[g]:>9.3f}{d:>+9.3f}")
    print(f"largest |difference|: {worst:.3f}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
