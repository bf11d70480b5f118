"""Synthetic version-2 records with known per-forward costs, and stalls on demand.

For testing the cost model (:mod:`specaudit.metrics.costmodel`), the outlier
flags and the robust speed-up (:mod:`specaudit.metrics.timing`) against a
known truth.

Model, per prompt p of a group with acceptance probability alpha_p (alpha of
the group, +- its spread):

- a prompt of L tokens, L uniform on ``prompt_tokens``;
- speculative steps drafting k = min(gamma, budget left - 1) tokens, accepted
  one after the other with probability alpha_p until the first rejection,
  until ``max_new_tokens`` tokens are out; plain decoding emits the same
  tokens (greedy);
- every timed operation costs its :class:`ForwardCosts` price times
  ``m_p * e``: m_p a prompt-level factor shared by both decodes (the
  machine's state while the prompt ran), e each operation's own noise, both
  log-normal with median 1;
- with probability ``stall_share`` a prompt is *stalled*: one of its two
  decodes (either, equally likely) has one operation delayed so that the
  decode takes ``f`` times as long, f uniform on ``stall_factor``.

The noise factors have the same mean for every operation, so the population
speed-up (the limit of summed plain over summed speculative time without
stalls) is the ratio of expected noiseless costs: :func:`true_speedup`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from specaudit.metrics.bootstrap import bootstrap_intervals
from specaudit.metrics.timing import timing_assessment

__all__ = [
    "SIMULATED_GROUPS",
    "ForwardCosts",
    "SimulationResult",
    "TimedGroup",
    "stall_simulation",
    "timed_records",
    "true_speedup",
]


@dataclass(frozen=True)
class ForwardCosts:
    """True per-operation costs of a simulated device, in seconds (medians)."""

    plain_step_s: float = 0.010
    verify_fixed_s: float = 0.012
    verify_per_token_s: float = 0.001
    draft_fixed_s: float = 0.0005
    draft_per_token_s: float = 0.002
    plain_prefill_fixed_s: float = 0.015
    plain_prefill_per_token_s: float = 0.0003
    spec_prefill_fixed_s: float = 0.018
    spec_prefill_per_token_s: float = 0.0003


@dataclass(frozen=True)
class TimedGroup:
    """One simulated (language, task) group."""

    language: str
    task: str = "story"
    alpha: float = 0.7  #: per-draft acceptance probability
    alpha_spread: float = 0.1  #: prompts draw alpha +- this
    n_prompts: int = 20


def _steps(rng: np.random.Generator, alpha: float, gamma: int, budget: int) -> list[int]:
    """Drafted and accepted counts of each step, as (k, n) pairs flattened."""
    out, emitted = [], 0
    while emitted < budget:
        k = min(gamma, budget - emitted - 1)
        n = 0
        while n < k and rng.random() < alpha:
            n += 1
        out.append((k, n))
        emitted += n + 1
    return out


def _prompt_work(
    rng: np.random.Generator, group: TimedGroup, *, gamma: int, max_new_tokens: int, lengths
) -> tuple[int, list[tuple[int, int]]]:
    alpha = float(np.clip(group.alpha + rng.choice([-1, 1]) * group.alpha_spread, 0.0, 0.99))
    return int(rng.integers(lengths[0], lengths[1] + 1)), _steps(rng, alpha, gamma, max_new_tokens)


def _record(
    rng: np.random.Generator,
    group: TimedGroup,
    index: int,
    costs: ForwardCosts,
    *,
    L: int,
    steps: list[tuple[int, int]],
    forward_sd: float,
    prompt_sd: float,
    stall: float | None,
) -> dict[str, Any]:
    m = rng.lognormal(0.0, prompt_sd)

    def noisy(price: float | np.ndarray, size: int | None = None) -> np.ndarray:
        return m * np.asarray(price) * rng.lognormal(0.0, forward_sd, size=size)

    n_tokens = sum(n + 1 for _, n in steps)
    ks = np.array([k for k, _ in steps], dtype=float)
    plain_steps = noisy(costs.plain_step_s, n_tokens)
    plain_prefill = float(noisy(costs.plain_prefill_fixed_s + costs.plain_prefill_per_token_s * L))
    draft = noisy(costs.draft_fixed_s + costs.draft_per_token_s * ks, len(steps))
    verify = noisy(costs.verify_fixed_s + costs.verify_per_token_s * (ks + 1), len(steps))
    spec_prefill = float(noisy(costs.spec_prefill_fixed_s + costs.spec_prefill_per_token_s * L))
    if stall is not None:
        # One operation of one decode waits long enough to make the decode f times slower.
        if rng.random() < 0.5:
            total = plain_prefill + plain_steps.sum()
            plain_steps[rng.integers(len(plain_steps))] += (stall - 1.0) * total
        else:
            total = spec_prefill + draft.sum() + verify.sum()
            verify[rng.integers(len(verify))] += (stall - 1.0) * total
    plain_time = plain_prefill + float(plain_steps.sum())
    spec_time = spec_prefill + float(draft.sum() + verify.sum())
    output_ids = list(range(3, 3 + n_tokens))
    n_draft = int(ks.sum())
    attempt = {
        "reason": "initial",
        "order": "plain-first" if index % 2 == 0 else "spec-first",
        "plain_time_s": plain_time,
        "plain_prefill_time_s": plain_prefill,
        "plain_step_times_s": plain_steps.tolist(),
        "spec_time_s": spec_time,
        "spec_prefill_time_s": spec_prefill,
        "draft_times_s": draft.tolist(),
        "verify_times_s": verify.tolist(),
        "forward_time_s": spec_time,
        "load_1m": 1.0,
        "cpu_steal": 0.0,
        "reproduced": True,
    }
    step_dicts = []
    for (k, n), d, v in zip(steps, draft, verify, strict=True):
        verified = n + int(n < k)
        step_dicts.append(
            {
                "drafted": k,
                "accepted": n,
                "rejected": n < k,
                "emitted": n + 1,
                "draft_time_s": float(d),
                "verify_time_s": float(v),
                "position_accepted": [True] * n + [False] * (verified - n),
                "alpha": [0.7] * verified,
                "cross_entropy": [1.0] * verified,
                "kl": [0.3] * verified,
            }
        )
    target_forward = (plain_time - plain_prefill) / n_tokens
    draft_forward = float(draft.sum()) / n_draft if n_draft else 0.0
    return {
        "record_version": 2,
        "id": f"{group.task}-{group.language}-{index:04d}",
        "language": group.language,
        "task": group.task,
        "item_id": None,
        "split": "test",
        "prompt": f"prompt {index}",
        "prompt_ids": list(range(L)),
        "output_ids": output_ids,
        "output_text": "a" * (4 * n_tokens),
        "stop_reason": "max_new_tokens",
        "steps": step_dicts,
        "prefill_time_s": spec_prefill,
        "spec_time_s": spec_time,
        "baseline_output_ids": output_ids,
        "baseline_time_s": plain_time,
        "baseline_prefill_time_s": plain_prefill,
        "lossless": True,
        "draft_forward_s": draft_forward,
        "target_forward_s": target_forward,
        "c": draft_forward / target_forward,
        "n_draft_forwards": n_draft,
        "forward_time_s": spec_time,
        "output_chars": 4 * n_tokens,
        "prompt_chars": L,
        "seed": index,
        "device_name": "simulated device",
        "plain_step_times_s": plain_steps.tolist(),
        "timing_attempts": [attempt],
        "timing_chosen": {"plain": 0, "spec": 0},
    }


def timed_records(
    groups: Sequence[TimedGroup],
    costs: ForwardCosts = ForwardCosts(),
    *,
    gamma: int = 4,
    max_new_tokens: int = 48,
    prompt_tokens: tuple[int, int] = (20, 100),
    forward_sd: float = 0.05,
    prompt_sd: float = 0.05,
    stall_share: float = 0.0,
    stall_factor: tuple[float, float] = (3.0, 20.0),
    seed: int | np.random.Generator = 0,
) -> list[dict[str, Any]]:
    """Simulate the records of an audit with known costs (see the module docstring).

    Parameters
    ----------
    groups : sequence of TimedGroup
        One per (language, task) group.
    costs : ForwardCosts
        The true per-operation costs.
    gamma, max_new_tokens : int
        Draft length and output budget per prompt.
    prompt_tokens : (int, int)
        Inclusive range of prompt lengths.
    forward_sd, prompt_sd : float
        Log-sd of each operation's noise and of the prompt-level factor.
    stall_share : float
        Probability that a prompt has one stalled decode.
    stall_factor : (float, float)
        Range of the stalled decode's slow-down.
    seed : int or numpy.random.Generator
        Source of randomness.

    Returns
    -------
    list of dict
        Version-2 record dicts, one per prompt.
    """
    rng = np.random.default_rng(seed)
    records = []
    for group in groups:
        for i in range(group.n_prompts):
            L, steps = _prompt_work(
                rng, group, gamma=gamma, max_new_tokens=max_new_tokens, lengths=prompt_tokens
            )
            stalled = rng.random() < stall_share
            stall = float(rng.uniform(*stall_factor)) if stalled else None
            records.append(
                _record(
                    rng,
                    group,
                    i,
                    costs,
                    L=L,
                    steps=steps,
                    forward_sd=forward_sd,
                    prompt_sd=prompt_sd,
                    stall=stall,
                )
            )
    return records


def true_speedup(
    group: TimedGroup,
    costs: ForwardCosts = ForwardCosts(),
    *,
    gamma: int = 4,
    max_new_tokens: int = 48,
    prompt_tokens: tuple[int, int] = (20, 100),
    n: int = 5_000,
    seed: int = 12345,
) -> float:
    """Return the population speed-up of a group without stalls (expected plain / spec cost).

    Monte Carlo over ``n`` noiseless prompts (its relative error is far below
    a group interval's width for the default ``n``).
    """
    rng = np.random.default_rng(seed)
    plain = spec = 0.0
    for _ in range(n):
        L, steps = _prompt_work(
            rng, group, gamma=gamma, max_new_tokens=max_new_tokens, lengths=prompt_tokens
        )
        n_tokens = sum(a + 1 for _, a in steps)
        ks = np.array([k for k, _ in steps], dtype=float)
        plain += costs.plain_prefill_fixed_s + costs.plain_prefill_per_token_s * L
        plain += n_tokens * costs.plain_step_s
        spec += costs.spec_prefill_fixed_s + costs.spec_prefill_per_token_s * L
        spec += float(np.sum(costs.draft_fixed_s + costs.draft_per_token_s * ks))
        spec += float(np.sum(costs.verify_fixed_s + costs.verify_per_token_s * (ks + 1)))
    return plain / spec


SIMULATED_GROUPS = (
    TimedGroup("en", "story", alpha=0.8),
    TimedGroup("sw", "story", alpha=0.4),
    TimedGroup("de", "translation", alpha=0.65),
    TimedGroup("ja", "translation", alpha=0.5),
)


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


def stall_simulation(
    n_replications: int, *, stall_share: float, n_boot: int = 400, seed: int = 0
) -> SimulationResult:
    """Bias and coverage of the headline speed-up against the plain ratio of sums.

    Each replication simulates one audit of :data:`SIMULATED_GROUPS` (four
    groups of 20 prompts, like the default audit), stalls ``stall_share`` of
    its prompts, and estimates each group's speed-up two ways: ``robust``
    (the headline: summed robust times, see :mod:`specaudit.metrics.timing`)
    and ``raw`` (summed measured times), each with the expanded percentile
    bootstrap interval every group figure gets. Both are compared with the
    population speed-up without stalls (:func:`true_speedup`).
    """
    truth = {g.language: true_speedup(g) for g in SIMULATED_GROUPS}
    errors: dict[str, list[float]] = {"robust": [], "raw": []}
    covered: dict[str, list[bool]] = {"robust": [], "raw": []}
    for child in np.random.SeedSequence(seed).spawn(n_replications):
        rng = np.random.default_rng(child)
        records = timed_records(SIMULATED_GROUPS, stall_share=stall_share, seed=rng)
        timing = timing_assessment(records)
        languages = np.array([r["language"] for r in records])
        measured = {
            "raw": (
                np.array([r["baseline_time_s"] for r in records]),
                np.array([r["spec_time_s"] for r in records]),
            ),
            "robust": (timing.plain_robust_s, timing.spec_robust_s),
        }
        for language, true in truth.items():
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
                errors[name].append(float(iv.estimate[0] / true - 1.0))
                covered[name].append(bool(iv.low[0] <= true <= iv.high[0]))
    return SimulationResult(
        {k: np.array(v) for k, v in errors.items()}, {k: np.array(v) for k, v in covered.items()}
    )
