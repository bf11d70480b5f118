"""Does the first decode after a pause run slow, and does a short warm-up undo it?

    python bench/warmup.py [--rounds 10] [--pause 0.5]

Every re-timing of the audit follows a wait for idle CPUs
(docs/method.md#retiming), and an idle process's thread pool goes to sleep.
With the demo pair on four built-in prompts, each trial sleeps ``--pause``
seconds, optionally runs an untimed warm-up (one speculative and one plain
decode of 2 or 8 tokens, ``specaudit.audit.attempts.warm_up``), then times
the same decode twice in a row. It prints, per decode kind and warm-up, the
mean log ratio of the first decode's time to the second's, with its standard
error: what a pause costs the decode right after it. Trials of all
conditions are interleaved, so drift of the machine touches each alike.
Nothing else may run meanwhile: this is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from contention import demo_engine

from specaudit.audit.attempts import warm_up
from specaudit.audit.prompts import builtin_prompt_dir, load_prompts, select_prompts
from specaudit.audit.sampling import Decoding, TokenSampler

WARM_UPS = (0, 2, 8)  # tokens of each warm-up decode; 0 is none
TOKENS = 48  # the default audit's --max-new-tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--pause", type=float, default=0.5)
    args = parser.parse_args()

    engine, tokenizer = demo_engine()
    greedy = Decoding("greedy")
    chosen = select_prompts(load_prompts([builtin_prompt_dir()]), split="eval", n_per_group=1)[::6]
    prompts = [tokenizer(p.prompt)["input_ids"] for p in chosen][:4]
    kinds = {"plain": engine.plain, "speculative": engine.speculative}

    def timed(kind: str, ids: list[int]) -> float:
        start = time.perf_counter()
        kinds[kind](ids, TOKENS, TokenSampler(greedy))
        return time.perf_counter() - start

    warm_up(engine, greedy, prompts[0], rounds=2, max_new_tokens=8)
    ratios: dict[tuple[str, int], list[float]] = {(k, w): [] for k in kinds for w in WARM_UPS}
    for _ in range(args.rounds):
        for ids in prompts:
            for kind in kinds:
                for warm in WARM_UPS:
                    time.sleep(args.pause)
                    if warm:
                        warm_up(engine, greedy, ids, rounds=1, max_new_tokens=warm)
                    first = timed(kind, ids)
                    ratios[kind, warm].append(np.log(first / timed(kind, ids)))

    print(f"first decode after a {args.pause} s pause against the one right after it")
    print(f"{'decode':<13}{'warm-up':>9}{'trials':>8}{'first/second':>14}{'s.e.':>7}")
    for (kind, warm), values in ratios.items():
        x = np.array(values)
        label = f"{warm} tok" if warm else "none"
        print(
            f"{kind:<13}{label:>9}{len(x):>8}{np.expm1(x.mean()):>+14.1%}"
            f"{x.std(ddof=1) / np.sqrt(len(x)):>7.1%}"
        )


if __name__ == "__main__":
    main()
