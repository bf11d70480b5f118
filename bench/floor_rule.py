"""Measure the floor rule's statistic, KL per unit of TV, on audited runs.

For each group of each run directory, prints ``sum KL / sum (1 - alpha)``
over its verified positions and whether it reaches
:data:`~specaudit.metrics.divergence.FLOOR_KL_PER_TV` (the rule that marks
cross-entropy and KL figures floor-dominated, ``docs/method.md#floor``).

Usage (the runs behind the numbers in docs/method.md)::

    python -m specaudit ngram build --tokenizer specaudit/data/models/target \\
        --text specaudit/data/text/en.train.txt.gz --text specaudit/data/text/sw.train.txt.gz \\
        --text specaudit/data/text/zh.train.txt.gz --out /tmp/d.ngram
    python -m specaudit run --languages en,sw,zh --tasks translation,story --n-prompts 10 \\
        --max-new-tokens 32 --threads 1 --out /tmp/floor/neural
    python -m specaudit run --target specaudit/data/models/target --drafter ngram:/tmp/d.ngram \\
        --languages en,sw,zh --tasks translation,story --n-prompts 10 \\
        --max-new-tokens 32 --threads 1 --out /tmp/floor/ngram
    python bench/floor_rule.py /tmp/floor/neural /tmp/floor/ngram
"""

from __future__ import annotations

import argparse
from pathlib import Path

from specaudit.metrics import load_records, prompt_frame, step_frame
from specaudit.metrics._load import infer_gamma
from specaudit.metrics.divergence import FLOOR_KL_PER_TV, floor_dominated, kl_per_tv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run directories with records.jsonl")
    args = parser.parse_args()
    print(f"threshold: {FLOOR_KL_PER_TV:g} nats of KL per unit of TV")
    print("run\tgroup\tKL per TV\tfloor-dominated")
    for run in args.runs:
        records = load_records(run / "records.jsonl")
        gamma = max(1, infer_gamma(step_frame(records)))
        frame = prompt_frame(records, gamma=gamma)
        for group, rows in frame.groupby("group"):
            sums = (rows["kl_sum"].sum(), rows["alpha_sum"].sum(), rows["verified"].sum())
            print(
                f"{run.name}\t{group}\t{float(kl_per_tv(*sums)):.2f}\t{bool(floor_dominated(*sums))}"
            )


if __name__ == "__main__":
    main()
