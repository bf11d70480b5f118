"""Do other processes' CPU counters witness a noisy neighbour? Decodes, quiet and disturbed.

    python bench/contention.py [--seconds 25]

Decodes built-in prompts with the demo target alone (8, 20 or 45 tokens, at
random) for ``--seconds`` quietly, then as long beside the noisy neighbour
of ``bench/noise.py`` (a process per core burning CPU in bursts of about 1 s
every 4 s). For each decode it reads the CPU seconds other processes used
meanwhile (``specaudit.audit.machine_load.others_cpu_s``), and prints, per
condition and decode length: the decodes, the median, 90th percentile and
largest figure, the share that ``machine_load.contended`` calls contended,
the median slow-down of those against the median decode of their length, and
the correlation of the figure with the slow-down. The re-timing pass
(docs/method.md#retiming) rests on the quiet figures staying under the bar
and the disturbed ones clearing it. Nothing else may run meanwhile: this is
a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np
import torch
from noise import Neighbour

from specaudit.audit.drafters.neural import NeuralDrafter
from specaudit.audit.engine import SpeculativeEngine
from specaudit.audit.loading import load_causal_lm
from specaudit.audit.machine_load import contended, cpu_clock, others_cpu_s
from specaudit.audit.prompts import builtin_prompt_dir, load_prompts, select_prompts
from specaudit.audit.runner import builtin_pair
from specaudit.audit.sampling import Decoding, TokenSampler

LENGTHS = (8, 20, 45)


def demo_engine() -> tuple[SpeculativeEngine, object]:
    """The demo pair on the CPU in float32, with gamma 4 and no EOS: (engine, tokenizer)."""
    target_dir, drafter_dir = builtin_pair()
    device, dtype = torch.device("cpu"), torch.float32
    target = load_causal_lm(str(target_dir), device=device, dtype=dtype)
    drafter = load_causal_lm(str(drafter_dir), device=device, dtype=dtype)
    engine = SpeculativeEngine(
        target.model,
        NeuralDrafter(drafter.model, vocab_size=target.model.config.vocab_size),
        gamma=4,
        eos_ids=set(),
    )
    return engine, target.tokenizer


def _decodes(engine, prompts, seconds: float, rng: random.Random) -> np.ndarray:
    """Rows of (tokens, wall seconds, other processes' CPU seconds), for ``seconds``."""
    greedy = TokenSampler(Decoding("greedy"))
    rows = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        n = rng.choice(LENGTHS)
        before = cpu_clock()
        outcome = engine.plain(rng.choice(prompts), n, greedy, stop_at_eos=False)
        others = others_cpu_s(before, cpu_clock())
        rows.append((n, outcome.total_time_s, np.nan if others is None else others))
    return np.array(rows)


def _summary(name: str, rows: np.ndarray) -> None:
    for n in LENGTHS:
        x = rows[rows[:, 0] == n]
        if not len(x):
            continue
        slow = x[:, 1] / np.median(x[:, 1])
        hit = np.array([contended(o, t) for _, t, o in x])
        slowed = f"{np.median(slow[hit]):.2f}x" if hit.any() else "-"
        corr = np.corrcoef(x[:, 2], slow)[0, 1] if np.ptp(x[:, 2]) > 0 else float("nan")
        print(
            f"{name:<6}{n:>7}{len(x):>9}{np.median(x[:, 2]):>9.3f}"
            f"{np.quantile(x[:, 2], 0.9):>8.3f}{x[:, 2].max():>8.3f}"
            f"{hit.mean():>11.0%}{slowed:>10}{corr:>8.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=25.0)
    args = parser.parse_args()

    engine, tokenizer = demo_engine()
    chosen = select_prompts(load_prompts([builtin_prompt_dir()]), split="eval", n_per_group=2)
    prompts = [tokenizer(p.prompt)["input_ids"] for p in chosen]
    rng = random.Random(0)
    _decodes(engine, prompts, 2.0, rng)  # warm-up, untimed

    quiet = _decodes(engine, prompts, args.seconds, rng)
    with Neighbour(1.0, 4.0):
        noisy = _decodes(engine, prompts, args.seconds, rng)

    print("other processes' CPU seconds during each plain decode of the demo target")
    print(
        f"{'':<6}{'tokens':>7}{'decodes':>9}{'median':>9}{'p90':>8}{'max':>8}"
        f"{'contended':>11}{'slowed':>10}{'corr':>8}"
    )
    _summary("quiet", quiet)
    _summary("noisy", noisy)


if __name__ == "__main__":
    main()
