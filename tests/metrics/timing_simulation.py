"""Simulated audits with stalled prompts: bias and coverage of the headline speed-up.

Shared by the tests and ``bench``-style exploration. Each replication
simulates one audit of four groups (20 prompts each, like the default audit)
with version-2 records (:mod:`specaudit.metrics.synthetic_timing`), stalls a
share of its prompts, and estimates each group's speed-up two ways:

- ``robust``: the headline estimator, summed robust times (outliers against
  the run's own cost model replaced by their modelled time), with the same
  expanded percentile bootstrap interval as every group figure;
- ``raw``: the plain ratio of summed measured times, same interval.

Both are compared with the population speed-up without stalls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from specaudit.metrics.bootstrap import bootstrap_intervals
from specaudit.metrics.synthetic_timing import TimedGroup, timed_records, true_speedup
from specaudit.metrics.timing import timing_assessment

GROUPS = (
    TimedGroup("en", "story", alpha=0.8),
    TimedGroup("sw", "story", alpha=0.4),
    TimedGroup("de", "translation", alpha=0.65),
    TimedGroup("ja", "translation", alpha=0.5),
)
TRUTH = {g.language: true_speedup(g) for g in GROUPS}


@dataclass(frozen=True)
class SimulationResult:
    """Per estimator: relative errors and whether each interval covered the truth."""

    errors: dict[str, np.ndarray]
    covered: dict[str, np.ndarray]

    def bias(self, name: str) -> float:
        """Mean relative error of an estimator (0: unbiased)."""
        return float(np.mean(self.errors[name]))

    def coverage(self, name: str) -> float:
        """Share of intervals that contained the truth."""
        return float(np.mean(self.covered[name]))


def _ratio(plain: np.ndarray, spec: np.ndarray):
    def statistic(rows: np.ndarray, axis: int = -1) -> np.ndarray:
        rows = np.moveaxis(np.asarray(rows), axis, -1)
        return np.stack([plain[rows].sum(axis=-1) / spec[rows].sum(axis=-1)])

    return statistic


def simulate(
    n_replications: int, *, stall_share: float, n_boot: int = 400, seed: int = 0
) -> SimulationResult:
    """Run the simulation (see the module docstring)."""
    errors: dict[str, list[float]] = {"robust": [], "raw": []}
    covered: dict[str, list[bool]] = {"robust": [], "raw": []}
    for child in np.random.SeedSequence(seed).spawn(n_replications):
        rng = np.random.default_rng(child)
        records = timed_records(GROUPS, stall_share=stall_share, seed=rng)
        timing = timing_assessment(records)
        languages = np.array([r["language"] for r in records])
        measured = {
            "raw": (
                np.array([r["baseline_time_s"] for r in records]),
                np.array([r["spec_time_s"] for r in records]),
            ),
            "robust": (timing.plain_robust_s, timing.spec_robust_s),
        }
        for language, truth in TRUTH.items():
            rows = np.flatnonzero(languages == language)
            for name, (plain, spec) in measured.items():
                iv = bootstrap_intervals(
                    (np.arange(len(rows)),),
                    _ratio(plain[rows], spec[rows]),
                    n_boot=n_boot,
                    rng=rng,
                    confidence_level=0.95,
                    n_units=len(rows),
                )
                errors[name].append(float(iv.estimate[0] / truth - 1.0))
                covered[name].append(bool(iv.low[0] <= truth <= iv.high[0]))
    return SimulationResult(
        {k: np.array(v) for k, v in errors.items()}, {k: np.array(v) for k, v in covered.items()}
    )
