"""Cross-check a vLLM-backend run against a native run of the same prompts.

Usage: python bench/vllm_crosscheck.py NATIVE_RUN VLLM_RUN

For the prompts whose greedy outputs agree token for token, prints each
group's pooled acceptance sum n_t / sum (n_t + rejections) from both runs and
the difference (docs/serving.md, the ±0.02 target of issue 19). Audit the
native run with ``--first-token prefill``, vLLM's convention, so both cut
the text into the same steps; the script says when it was not.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import yaml

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
    config = yaml.safe_load((Path(native_dir) / "config.yaml").read_text(encoding="utf-8"))
    if config.get("first_token", "draft") != "prefill":
        print("note: the native run drafts the first token (--first-token draft); vLLM's prefill")
        print("makes it, so the two cut steps differently and acceptance differs a little")
    native = {r["id"]: r for r in load_records(Path(native_dir) / "records.jsonl")}
    served = load_records(Path(served_dir) / "records.jsonl")
    agree = {r["id"] for r in served if r["output_ids"] == native[r["id"]]["output_ids"]}
    a_native, a_served = acceptance(native.values(), agree), acceptance(served, agree)
    print(f"outputs agree on {len(agree)}/{len(served)} prompts")
    same_steps = sum(
        [(x["drafted"], x["accepted"]) for x in r["steps"]]
        == [(x["drafted"], x["accepted"]) for x in native[r["id"]]["steps"]]
        for r in served
        if r["id"] in agree
    )
    print(f"identical steps (drafted, accepted) on {same_steps}/{len(agree)} of those")
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
