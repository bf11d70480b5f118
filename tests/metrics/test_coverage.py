"""Coverage of the intervals, and Holm's family-wise error, by simulation.

Audits are simulated with :mod:`specaudit.metrics.synthetic`, whose groups
have a known true speed-up and acceptance rate, and run through the
estimators an audit uses (:func:`~specaudit.metrics.group.group_metrics`
for a group's figures, :func:`~specaudit.metrics.contrasts.contrasts` for
contrasts against the reference, Holm included) on groups of 20 prompts, the
smallest real audit.

The CI tests hold each estimator to the strict band: 92-98% coverage at the
95% level, and Holm's family-wise error to at most 8% (``docs/method.md#coverage``).

- **Replications.** :data:`N_INTERVALS` = 400 independent intervals per
  estimator: each replication simulates fresh data for one (group,
  reference) pair per contrast design, and one group's figures come from one
  of its groups, so no two intervals of one estimator share data. At 95%
  true coverage the binomial standard error is 0.011, and the band is 2.75
  standard errors either side: a calibrated estimator fails it with
  probability about 0.6%, one with 90% (or 99%) true coverage passes
  with probability about 9% (2%). :data:`N_FAMILIES` = 300 families of four
  contrasts give an error rate with standard error 0.013 at 5%: 0.08 is 2.4
  standard errors above (a calibrated Holm fails with probability about 1%),
  and uncorrected testing of the four contrasts fails.
- **Bootstrap resamples.** :data:`N_BOOT` = 200 per interval, not the
  audit's 2000: Monte Carlo noise in the percentile endpoints averages out
  over replications instead of biasing coverage. Measured with this file as
  a script (``python tests/metrics/test_coverage.py --n-boot 200`` and
  ``--n-boot 2000``); the numbers are in ``docs/method.md#coverage``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from specaudit.metrics._load import prompt_frame
from specaudit.metrics.contrasts import contrasts
from specaudit.metrics.group import group_metrics
from specaudit.metrics.synthetic import GroupSpec, synthetic_records, true_figures

N_PROMPTS = 20
LEVEL = 0.95
GAMMA = 4
N_INTERVALS = 400
N_FAMILIES = 300
N_BOOT = 200
BAND = (0.92, 0.98)
MAX_FWER = 0.08

#: The reference and two groups that differ from it in acceptance, draft
#: lengths, tokenization and drafter cost.
REFERENCE = GroupSpec("en", alpha=0.7, alpha_spread=0.15, n_prompts=N_PROMPTS)
OTHERS = (
    GroupSpec("de", alpha=0.6, alpha_spread=0.15, n_prompts=N_PROMPTS, short_draft_prob=0.2),
    GroupSpec(
        "sw",
        alpha=0.45,
        alpha_spread=0.15,
        n_prompts=N_PROMPTS,
        chars_per_token=2.5,
        draft_forward_s=0.003,
    ),
)
ESTIMATORS = (
    "speedup",
    "acceptance_rate",
    "speedup_ratio/cluster",
    "acceptance_diff/cluster",
    "speedup_ratio/stratified",
    "acceptance_diff/stratified",
)


def _frame(specs, *, parallel: bool, rng: np.random.Generator) -> pd.DataFrame:
    records = synthetic_records(specs, gamma=GAMMA, parallel=parallel, seed=rng)
    return prompt_frame(records, gamma=GAMMA)


def _covers(est, truth: float) -> bool:
    return est.ci_low is not None and est.ci_low <= truth <= est.ci_high


def simulate_coverage(
    n_intervals: int = N_INTERVALS, *, n_boot: int = N_BOOT, seed: int = 0
) -> dict[str, np.ndarray]:
    """Return, per estimator, whether each of ``n_intervals`` intervals covered the truth."""
    truth = {s.language: true_figures(s, gamma=GAMMA) for s in (REFERENCE, *OTHERS)}
    options = {"n_boot": n_boot, "confidence_level": LEVEL, "min_prompts": 10}
    hits: dict[str, list[bool]] = {name: [] for name in ESTIMATORS}
    for i, child in enumerate(np.random.SeedSequence(seed).spawn(n_intervals)):
        rng = np.random.default_rng(child)
        other = OTHERS[i % len(OTHERS)]
        true_ratio = truth[other.language]["speedup"] / truth["en"]["speedup"]
        true_diff = truth[other.language]["acceptance_rate"] - truth["en"]["acceptance_rate"]
        # One contrast per design, each on fresh data.
        for parallel in (True, False):
            frame = _frame([REFERENCE, other], parallel=parallel, rng=rng)
            pair = (frame[frame.language == other.language], frame[frame.language == "en"])
            (c,), _ = contrasts([pair], rng=rng, **options)
            hits[f"speedup_ratio/{c.resampling}"].append(_covers(c.speedup_ratio, true_ratio))
            hits[f"acceptance_diff/{c.resampling}"].append(_covers(c.acceptance_diff, true_diff))
        # One group of the independent pair, whose data no other group
        # interval shares: en in half the replications, de and sw a quarter each.
        language = "en" if (i // 2) % 2 == 0 else other.language
        g, _ = group_metrics(frame[frame.language == language], gamma=GAMMA, rng=rng, **options)
        for name in ("speedup", "acceptance_rate"):
            hits[name].append(_covers(getattr(g, name), truth[language][name]))
    return {k: np.array(v) for k, v in hits.items()}


def simulate_fwer(
    n_families: int = N_FAMILIES, *, n_boot: int = N_BOOT, seed: int = 1
) -> dict[str, np.ndarray]:
    """Five equal groups per family: per figure, whether any of the 4 true nulls was rejected.

    Keys ``<figure>/holm`` use the Holm-adjusted p-values, ``<figure>/uncorrected``
    the raw ones (the error Holm exists to prevent).
    """
    specs = [
        GroupSpec(lang, alpha=0.6, alpha_spread=0.15, n_prompts=N_PROMPTS)
        for lang in ("en", "de", "fr", "sw", "zh")
    ]
    names = ("speedup_ratio", "acceptance_diff")
    rejected: dict[str, list[bool]] = {
        f"{name}/{kind}": [] for name in names for kind in ("holm", "uncorrected")
    }
    for child in np.random.SeedSequence(seed).spawn(n_families):
        rng = np.random.default_rng(child)
        frame = _frame(specs, parallel=False, rng=rng)
        reference = frame[frame.language == "en"]
        pairs = [(frame[frame.language == s.language], reference) for s in specs[1:]]
        family, _ = contrasts(pairs, n_boot=n_boot, rng=rng, confidence_level=LEVEL, min_prompts=10)
        for name in names:
            adjusted = [getattr(c, name).p_adjusted for c in family]
            raw = [getattr(c, name).p_value for c in family]
            assert len(adjusted) == 4 and None not in adjusted
            rejected[f"{name}/holm"].append(min(adjusted) < 1 - LEVEL)
            rejected[f"{name}/uncorrected"].append(min(raw) < 1 - LEVEL)
    return {k: np.array(v) for k, v in rejected.items()}


def _summary(hits: dict[str, np.ndarray]) -> str:
    return ", ".join(f"{k} {v.mean():.3f} (n={v.size})" for k, v in hits.items())


def test_every_estimator_covers_within_the_strict_band():
    hits = simulate_coverage()
    for name in ESTIMATORS:
        assert hits[name].size == N_INTERVALS
        assert BAND[0] <= hits[name].mean() <= BAND[1], (name, _summary(hits))


def test_holm_keeps_the_family_wise_error_within_bound():
    rejected = simulate_fwer()
    for name in ("speedup_ratio", "acceptance_diff"):
        assert rejected[f"{name}/holm"].size == N_FAMILIES
        assert rejected[f"{name}/holm"].mean() <= MAX_FWER, _summary(rejected)
        # The bound has teeth: without the correction the same families exceed it.
        assert rejected[f"{name}/uncorrected"].mean() > MAX_FWER, _summary(rejected)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intervals", type=int, default=N_INTERVALS)
    parser.add_argument("--families", type=int, default=N_FAMILIES)
    parser.add_argument("--n-boot", type=int, default=N_BOOT)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    start = time.perf_counter()
    cov = simulate_coverage(args.intervals, n_boot=args.n_boot, seed=args.seed)
    print(f"coverage at {LEVEL:.0%} ({time.perf_counter() - start:.0f} s):", _summary(cov))
    start = time.perf_counter()
    fwer = simulate_fwer(args.families, n_boot=args.n_boot, seed=args.seed + 1)
    print(f"Holm family-wise error ({time.perf_counter() - start:.0f} s):", _summary(fwer))
