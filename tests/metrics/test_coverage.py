"""Coverage of the intervals, and Holm's family-wise error, by simulation.

Audits are simulated with :mod:`specaudit.metrics.synthetic`, whose groups have
a known true speed-up and acceptance rate, and run through
:func:`compute_metrics` exactly as a real audit is. Each simulated audit has
two tasks with three groups of 20 prompts (the smallest real audit): one task
on a parallel prompt set (contrasts resample items as clusters), one not
(contrasts resample each group independently).

The fast tests run a few dozen audits as a smoke check with wide bands; the
slow ones (``-m slow``) run 500 audits and hold the intervals to 92-98%
coverage at the 95% level and Holm's family-wise error to 5% plus two
simulation standard errors. Measured numbers: run this file as a script,
``python tests/metrics/test_coverage.py --audits 500``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pytest

from specaudit.metrics import compute_metrics
from specaudit.metrics.synthetic import GroupSpec, synthetic_records, true_figures

N_PROMPTS = 20
LEVEL = 0.95


def _specs(task: str, n_prompts: int) -> list[GroupSpec]:
    return [
        GroupSpec("en", task, alpha=0.7, alpha_spread=0.15, n_prompts=n_prompts),
        GroupSpec(
            "de", task, alpha=0.6, alpha_spread=0.15, n_prompts=n_prompts, short_draft_prob=0.2
        ),
        GroupSpec(
            "sw",
            task,
            alpha=0.45,
            alpha_spread=0.15,
            n_prompts=n_prompts,
            chars_per_token=2.5,
            draft_forward_s=0.003,
        ),
    ]


def simulate_coverage(
    n_audits: int, *, n_prompts: int = N_PROMPTS, n_boot: int = 2000, seed: int = 0
) -> dict[str, np.ndarray]:
    """Simulate audits; return, per interval kind, whether each interval covered the truth."""
    tasks = {"parallel": True, "independent": False}
    specs = {task: _specs(task, n_prompts) for task in tasks}
    truth = {
        f"{s.language}/{task}": true_figures(s) for task, group in specs.items() for s in group
    }
    hits: dict[str, list[bool]] = {
        "speedup": [],
        "acceptance_rate": [],
        "speedup_ratio/cluster": [],
        "acceptance_diff/cluster": [],
        "speedup_ratio/stratified": [],
        "acceptance_diff/stratified": [],
    }
    for audit, child in enumerate(np.random.SeedSequence(seed).spawn(n_audits)):
        rng = np.random.default_rng(child)
        records = []
        for task, parallel in tasks.items():
            records += synthetic_records(specs[task], parallel=parallel, seed=rng)
        result = compute_metrics(records, n_boot=n_boot, seed=audit, confidence_level=LEVEL)
        for g in result.groups:
            for name in ("speedup", "acceptance_rate"):
                est = getattr(g, name)
                hits[name].append(est.ci_low <= truth[g.group][name] <= est.ci_high)
        for c in result.disparity.contrasts:
            true_ratio = truth[c.group]["speedup"] / truth[c.reference]["speedup"]
            true_diff = truth[c.group]["acceptance_rate"] - truth[c.reference]["acceptance_rate"]
            for name, value in (("speedup_ratio", true_ratio), ("acceptance_diff", true_diff)):
                est = getattr(c, name)
                hits[f"{name}/{c.resampling}"].append(est.ci_low <= value <= est.ci_high)
    return {k: np.array(v) for k, v in hits.items()}


def simulate_fwer(
    n_audits: int, *, n_prompts: int = N_PROMPTS, n_boot: int = 2000, seed: int = 1
) -> dict[str, np.ndarray]:
    """Simulate audits of five equal groups; return per family whether Holm rejected any."""
    specs = [
        GroupSpec(lang, alpha=0.6, alpha_spread=0.15, n_prompts=n_prompts)
        for lang in ("en", "de", "fr", "sw", "zh")
    ]
    rejected: dict[str, list[bool]] = {"speedup_ratio": [], "acceptance_diff": []}
    for audit, child in enumerate(np.random.SeedSequence(seed).spawn(n_audits)):
        records = synthetic_records(specs, seed=np.random.default_rng(child))
        result = compute_metrics(records, n_boot=n_boot, seed=audit, confidence_level=LEVEL)
        for name, hits in rejected.items():
            adjusted = [getattr(c, name).p_adjusted for c in result.disparity.contrasts]
            assert len(adjusted) == 4 and None not in adjusted
            hits.append(min(adjusted) < 1 - LEVEL)
    return {k: np.array(v) for k, v in rejected.items()}


def _band(n: int, width: float) -> tuple[float, float]:
    """LEVEL +- ``width`` binomial standard errors of a rate from n audits."""
    se = np.sqrt(LEVEL * (1 - LEVEL) / n)
    return LEVEL - width * se, min(1.0, LEVEL + width * se)


def _summary(hits: dict[str, np.ndarray]) -> str:
    return ", ".join(f"{k} {v.mean():.3f} (n={v.size})" for k, v in hits.items())


def test_coverage_fast():
    n_audits = 30
    hits = simulate_coverage(n_audits, n_boot=1000)
    low, high = _band(n_audits, 3.5)  # audits, not intervals: intervals share an audit
    for name, covered in hits.items():
        assert low <= covered.mean() <= high, (name, _summary(hits))


def test_family_wise_error_fast():
    n_audits = 40
    rejected = simulate_fwer(n_audits, n_boot=1000)
    bound = 0.05 + 3.5 * np.sqrt(0.05 * 0.95 / n_audits)
    for name, hits in rejected.items():
        assert hits.mean() <= bound, (name, _summary(rejected))


@pytest.mark.slow
def test_coverage_slow():
    hits = simulate_coverage(500)
    print("coverage:", _summary(hits))
    for name in (
        "speedup",
        "speedup_ratio/cluster",
        "speedup_ratio/stratified",
        "acceptance_diff/cluster",
        "acceptance_diff/stratified",
    ):
        assert 0.92 <= hits[name].mean() <= 0.98, (name, _summary(hits))


@pytest.mark.slow
def test_family_wise_error_slow():
    n_audits = 500
    rejected = simulate_fwer(n_audits)
    print("Holm family-wise error:", _summary(rejected))
    bound = 0.05 + 2 * np.sqrt(0.05 * 0.95 / n_audits)
    for name, hits in rejected.items():
        assert hits.mean() <= bound, (name, _summary(rejected))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audits", type=int, default=500)
    parser.add_argument("--prompts", type=int, default=N_PROMPTS)
    parser.add_argument("--n-boot", type=int, default=2000)
    args = parser.parse_args()
    start = time.perf_counter()
    cov = simulate_coverage(args.audits, n_prompts=args.prompts, n_boot=args.n_boot)
    print(f"coverage at {LEVEL:.0%} ({time.perf_counter() - start:.0f} s):", _summary(cov))
    start = time.perf_counter()
    fwer = simulate_fwer(args.audits, n_prompts=args.prompts, n_boot=args.n_boot)
    print(f"Holm family-wise error ({time.perf_counter() - start:.0f} s):", _summary(fwer))
