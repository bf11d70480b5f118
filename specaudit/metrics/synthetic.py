"""Synthetic ``records.jsonl`` dicts with a known truth.

For tests, for simulating interval coverage, and for building reports or
gates before a real audit exists. The records follow the record format
(``specaudit.records``) exactly; only the numbers are invented.

Model, per group g and item i (prompt p = (g, i)):

- the prompt runs K_i speculative steps, K_i uniform on ``steps``;
- its acceptance probability is alpha_p = alpha_g + s_i * alpha_spread_g with
  s_i = -1 or +1 equally likely (prompt-level heterogeneity);
- each step drafts gamma tokens, or with probability ``short_draft_prob`` a
  number uniform on 0..gamma-1; drafts are accepted one after the other with
  probability alpha_p until the first rejection;
- speculative time = m_i e_spec (prefill + sum_t (gamma_t draft_forward_s +
  verify_cost target_forward_s)), plain time = m_i e_base (prefill +
  tokens * target_forward_s) for the same number of tokens, where m_i (the
  prompt's "machine state", shared by both runs: pairing) and e (run noise)
  are independent log-normal factors with mean 1.

With ``parallel=True`` every group has the same items, and K_i, s_i and m_i
belong to the item (shared by all languages), as on a parallel prompt set.

Since m and e have mean 1 and are independent of the steps, the group's true
speed-up (the limit of summed plain over summed speculative time) and true
acceptance_rate are known in closed form: :func:`true_figures`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["GroupSpec", "synthetic_records", "true_figures"]


@dataclass(frozen=True)
class GroupSpec:
    """How to simulate one (language, task) group."""

    language: str
    task: str = "translation"
    alpha: float = 0.7  # per-draft acceptance probability
    alpha_spread: float = 0.0  # prompt-level heterogeneity: alpha +- spread
    n_prompts: int = 30  # prompts (items) in the group
    draft_forward_s: float = 0.002  # one drafter forward
    target_forward_s: float = 0.02  # one target forward in plain decoding
    verify_cost: float = 1.1  # a verify forward costs this many plain target forwards
    chars_per_token: float = 4.0  # mean output characters per token (+-20% per prompt)
    short_draft_prob: float = 0.0  # chance a step drafts fewer than gamma tokens


def _step_moments(spec: GroupSpec, gamma: int) -> tuple[float, float, float]:
    """E[accepted], E[rejection] and E[drafted] per step."""
    acc = rej = drafted = 0.0
    lengths = [(gamma, 1.0 - spec.short_draft_prob)] + [
        (k, spec.short_draft_prob / gamma) for k in range(gamma)
    ]
    for sign in (-1.0, 1.0):
        a = float(np.clip(spec.alpha + sign * spec.alpha_spread, 0.0, 1.0))
        for k, weight in lengths:
            acc += 0.5 * weight * sum(a**i for i in range(1, k + 1))
            rej += 0.5 * weight * (1.0 - a**k)
            drafted += 0.5 * weight * k
    return acc, rej, drafted


def true_figures(
    spec: GroupSpec,
    *,
    gamma: int = 4,
    steps: tuple[int, int] = (20, 40),
    prefill_s: float = 0.05,
) -> dict[str, float]:
    """Return the population ``speedup`` and ``acceptance_rate`` of a simulated group.

    Parameters are those given to :func:`synthetic_records`.
    """
    acc, rej, drafted = _step_moments(spec, gamma)
    mean_steps = (steps[0] + steps[1]) / 2.0
    base = prefill_s + mean_steps * (1.0 + acc) * spec.target_forward_s
    spec_time = prefill_s + mean_steps * (
        drafted * spec.draft_forward_s + spec.verify_cost * spec.target_forward_s
    )
    return {"speedup": base / spec_time, "acceptance_rate": acc / (acc + rej)}


def _lognormal(rng: np.random.Generator, sd: float, size: int) -> np.ndarray:
    return rng.lognormal(-0.5 * sd**2, sd, size=size)


def synthetic_records(
    specs: Sequence[GroupSpec],
    *,
    gamma: int = 4,
    steps: tuple[int, int] = (20, 40),
    prefill_s: float = 0.05,
    item_sd: float = 0.3,
    run_sd: float = 0.1,
    parallel: bool = True,
    seed: int | np.random.Generator = 0,
) -> list[dict[str, Any]]:
    """Simulate the records of an audit.

    Parameters
    ----------
    specs : sequence of GroupSpec
        One per group.
    gamma : int
        Draft length.
    steps : (int, int)
        Inclusive range of speculative steps per prompt.
    prefill_s : float
        Prefill time of either run (before the machine factors).
    item_sd, run_sd : float
        Log-sd of the per-prompt factor m (shared by both runs) and of each
        run's own noise e.
    parallel : bool
        Whether the groups share items (``item_id``) and their draws.
    seed : int or numpy.random.Generator
        Source of randomness.

    Returns
    -------
    list of dict
        One record dict per prompt, in the ``records.jsonl`` format.
    """
    rng = np.random.default_rng(seed)
    n_items = max(s.n_prompts for s in specs)
    shared = {
        "k": rng.integers(steps[0], steps[1] + 1, size=n_items),
        "sign": rng.choice([-1.0, 1.0], size=n_items),
        "m": _lognormal(rng, item_sd, n_items),
    }
    records = []
    for spec in specs:
        if parallel:
            k_all, sign_all, m_all = shared["k"], shared["sign"], shared["m"]
        else:
            k_all = rng.integers(steps[0], steps[1] + 1, size=spec.n_prompts)
            sign_all = rng.choice([-1.0, 1.0], size=spec.n_prompts)
            m_all = _lognormal(rng, item_sd, spec.n_prompts)
        for i in range(spec.n_prompts):
            alpha = float(np.clip(spec.alpha + sign_all[i] * spec.alpha_spread, 0.0, 1.0))
            records.append(
                _prompt(
                    spec,
                    item=i,
                    n_steps=int(k_all[i]),
                    alpha=alpha,
                    m=float(m_all[i]),
                    gamma=gamma,
                    prefill_s=prefill_s,
                    run_sd=run_sd,
                    parallel=parallel,
                    rng=rng,
                )
            )
    return records


def _prompt(
    spec: GroupSpec,
    *,
    item: int,
    n_steps: int,
    alpha: float,
    m: float,
    gamma: int,
    prefill_s: float,
    run_sd: float,
    parallel: bool,
    rng: np.random.Generator,
) -> dict[str, Any]:
    drafted = np.full(n_steps, gamma)
    short = rng.random(n_steps) < spec.short_draft_prob
    drafted[short] = rng.integers(0, gamma, size=int(short.sum()))
    trials = rng.random((n_steps, gamma)) < alpha
    # n_t: leading successes among the gamma_t drafted positions.
    trials &= np.arange(gamma) < drafted[:, None]
    accepted = np.cumprod(trials, axis=1).sum(axis=1)
    rejected = accepted < drafted
    verified = accepted + rejected
    e_spec, e_base = _lognormal(rng, run_sd, 2)
    spec_scale, base_scale = m * e_spec, m * e_base
    n_positions = int(verified.sum())
    pos_alpha = np.clip(alpha + rng.normal(0.0, 0.1, n_positions), 0.0, 1.0)
    tv = 1.0 - pos_alpha
    kl = 2.0 * tv**2 * (1.0 + np.abs(rng.normal(0.0, 0.3, n_positions)))  # Pinsker holds
    ce = kl + rng.uniform(0.5, 1.5, n_positions)  # cross-entropy = H(p) + KL
    draft_time = drafted * spec.draft_forward_s * spec_scale
    verify_time = np.full(n_steps, spec.verify_cost * spec.target_forward_s * spec_scale)
    bounds = np.concatenate([[0], np.cumsum(verified)]).tolist()
    # Plain Python lists once, not numpy scalars per step: simulations build
    # hundreds of thousands of these dicts.
    pos = {"alpha": pos_alpha.tolist(), "cross_entropy": ce.tolist(), "kl": kl.tolist()}
    columns = zip(
        drafted.tolist(),
        accepted.tolist(),
        rejected.tolist(),
        draft_time.tolist(),
        verify_time.tolist(),
        bounds[:-1],
        bounds[1:],
        strict=True,
    )
    step_dicts = [
        {
            "drafted": d,
            "accepted": a,
            "rejected": r,
            "emitted": a + 1,
            "draft_time_s": dt,
            "verify_time_s": vt,
            "position_accepted": [True] * a + [False] * int(r),
            "alpha": pos["alpha"][lo:hi],
            "cross_entropy": pos["cross_entropy"][lo:hi],
            "kl": pos["kl"][lo:hi],
        }
        for d, a, r, dt, vt, lo, hi in columns
    ]
    n_tokens = int((accepted + 1).sum())
    output_ids = rng.integers(3, 32000, size=n_tokens).tolist()
    output_chars = max(1, round(n_tokens * spec.chars_per_token * rng.uniform(0.8, 1.2)))
    prefill_spec = prefill_s * spec_scale
    spec_time = prefill_spec + float(draft_time.sum() + verify_time.sum())
    n_draft = int(drafted.sum())
    prompt_id = f"{spec.language}-{spec.task}-{item:04d}"
    return {
        "record_version": 1,
        "id": prompt_id,
        "language": spec.language,
        "task": spec.task,
        "item_id": f"{spec.task}-{item:04d}" if parallel else None,
        "split": "test",
        "prompt": f"prompt {item}",
        "prompt_ids": [1, 2, 3],
        "output_ids": output_ids,
        "output_text": "a" * output_chars,
        "stop_reason": "max_new_tokens",
        "steps": step_dicts,
        "prefill_time_s": prefill_spec,
        "spec_time_s": spec_time,
        "baseline_output_ids": output_ids,
        "baseline_time_s": base_scale * (prefill_s + n_tokens * spec.target_forward_s),
        "baseline_prefill_time_s": prefill_s * base_scale,
        "lossless": True,
        "draft_forward_s": spec.draft_forward_s * spec_scale if n_draft else 0.0,
        "target_forward_s": spec.target_forward_s * base_scale,
        "c": (spec.draft_forward_s * spec_scale / (spec.target_forward_s * base_scale))
        if n_draft
        else 0.0,
        "n_draft_forwards": n_draft,
        "forward_time_s": spec_time,
        "output_chars": output_chars,
        "prompt_chars": 8,
        "seed": item,
    }
