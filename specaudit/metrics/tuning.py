"""Predicted speed-up of one drafter at other draft lengths, from one audit's records.

An audit at draft length G records, for every speculative step, how many
drafts were proposed and accepted. From those steps, per group:

- ``a_i`` = P(draft i accepted | drafts 1..i-1 accepted, draft i proposed):
  ``pos_accepted_i / pos_verified_i``, the conditional acceptance profile;
- ``d_i`` = P(draft i proposed | drafts 1..i-1 accepted, i requested): always 1
  for a neural drafter; below 1 for an n-gram drafter, which stops at an
  unseen context;
- ``e_i`` = P(draft i proposed | draft i-1 proposed, i requested): what the
  proposed (and so verified and paid for) drafts cost, accepted or not.

A step that requests k drafts then accepts ``A`` drafts with
``P(A >= i) = prod_{j <= i} d_j a_j`` and proposes ``D`` with
``P(D >= i) = prod_{j <= i} e_j`` (i <= k). It emits ``A + 1`` tokens. The
engine never drafts past the budget (``k = min(gamma, left - 1)``), so the
expected number of steps and of proposed drafts to emit a prompt's N tokens
comes from a short recursion over the tokens left (:func:`step_expectations`).
Prompts that stopped at end-of-sequence are decoded as if unbudgeted up to
their length.

The prompt's predicted speculative time prices those counts with the run's
calibrated cost model (:class:`~specaudit.metrics.costmodel.CostModel`): the
prefill, ``draft(k) + verify(k + 1) + loop`` per step, and the calibration
scale. A verify of k + 1 tokens is priced at the median of the run's own
verifies of that length (:func:`verify_costs`), not the model's straight
line: on a CPU a forward's cost is far from linear in its tokens, and the
recursion counts the steps that proposed each draft position, so each
length is paid for at its own price. Its plain time is the model's plain
time of the same prompt, so the group's predicted speed-up is sum of
modelled plain over sum of predicted speculative time: at the audited G it
reproduces the run's modelled speed-up up to the pooling of the profile over
the group's prompts and the verifies' medians.

Extrapolation: positions beyond the audited G were never observed. Their
rates hold the last measured conditional rate (``a_G``, ``d_G``, ``e_G``); the
conditional acceptance rises with the position in these audits (prompts that
reach deep positions are the predictable ones), so holding it neither
assumes a further rise nor a collapse. A prediction more than
:data:`LONG_EXTRAPOLATION` positions past G is flagged. Verifies longer than
G + 1 tokens were never timed either: the cost model's straight line, fitted
on 1..G+1 tokens, prices them.

Intervals resample the group's prompts (all counts and costs of a prompt
together) with :func:`~specaudit.metrics.bootstrap.bootstrap_intervals`,
expanded for small samples, percentile method.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from specaudit.metrics.bootstrap import bootstrap_intervals
from specaudit.metrics.costmodel import CostModel, cost_key, fit_cost_models

__all__ = [
    "GAMMAS",
    "LONG_EXTRAPOLATION",
    "GroupPrediction",
    "position_counts",
    "predict_run",
    "rate_profile",
    "step_expectations",
    "verify_costs",
]

#: Draft lengths every prediction covers.
GAMMAS: tuple[int, ...] = tuple(range(1, 9))
#: Positions past the audited draft length beyond which a prediction is flagged.
LONG_EXTRAPOLATION = 2
#: Verifies of one length a run must have timed for their median to price that length.
MIN_VERIFIES = 10
#: Per-prompt count kinds of :func:`position_counts`, in order.
_KINDS = ("e_reach", "e_hit", "d_reach", "d_hit", "a_reach", "a_hit")


@dataclass(frozen=True)
class GroupPrediction:
    """One group's predicted speed-up with one drafter at one draft length.

    Attributes
    ----------
    group : str
        ``language/task``.
    gamma : int
        Draft length of the prediction.
    estimate, low, high : float
        Predicted speed-up and its bootstrap interval (NaN bounds when the
        group is too small for one).
    extrapolated : int
        Draft positions past the audited draft length (0 within it).
    n_prompts : int
        Prompts behind the prediction.
    """

    group: str
    gamma: int
    estimate: float
    low: float
    high: float
    extrapolated: int
    n_prompts: int

    @property
    def long_extrapolation(self) -> bool:
        """Whether it reaches more than :data:`LONG_EXTRAPOLATION` positions past the audit."""
        return self.extrapolated > LONG_EXTRAPOLATION


def position_counts(
    records: Sequence[Mapping[str, Any]], *, gamma: int, max_new_tokens: int
) -> np.ndarray:
    """Per prompt, the step counts behind the rate profile, shape ``(n, 6, gamma)``.

    Row kinds (``_KINDS``) for position i: steps that requested draft i with
    draft i-1 proposed, and of those the ones that proposed it (``e``); steps
    that requested it with drafts 1..i-1 accepted, and of those the ones that
    proposed it (``d``); steps that verified it, and of those the ones that
    accepted it (``a``). A step requests ``min(gamma, budget left - 1)``
    drafts, as the engine does.
    """
    out = np.zeros((len(records), len(_KINDS), gamma), dtype=float)
    positions = np.arange(1, gamma + 1)
    for p, record in enumerate(records):
        steps = record["steps"]
        if not steps:
            continue
        drafted = np.array([s["drafted"] for s in steps])
        accepted = np.array([s["accepted"] for s in steps])
        verified = accepted + np.array([bool(s["rejected"]) for s in steps], dtype=int)
        emitted = np.array([s.get("emitted", s["accepted"] + 1) for s in steps])
        before = np.concatenate([[0], np.cumsum(emitted)[:-1]])
        requested = np.minimum(gamma, max_new_tokens - before - 1)[:, None]
        want = requested >= positions  # (steps, gamma)
        proposed = drafted[:, None] >= positions
        after_proposed = drafted[:, None] >= positions - 1
        after_accepted = accepted[:, None] >= positions - 1
        out[p, 0] = (want & after_proposed).sum(0)
        out[p, 1] = (want & proposed).sum(0)
        out[p, 2] = (want & after_accepted).sum(0)
        out[p, 3] = (want & after_accepted & proposed).sum(0)
        out[p, 4] = (verified[:, None] >= positions).sum(0)
        out[p, 5] = (accepted[:, None] >= positions).sum(0)
    return out


def rate_profile(counts: np.ndarray, n_positions: int) -> np.ndarray:
    """Conditional rates ``e, d, a`` per position from summed counts.

    Parameters
    ----------
    counts : ndarray, shape (..., 6, G)
        Summed :func:`position_counts`.
    n_positions : int
        Positions wanted; those past G (and undefined ones: nothing reached
        them) hold the last defined rate, and a rate never defined is 0.

    Returns
    -------
    ndarray, shape (..., 3, n_positions)
    """
    reach, hit = counts[..., 0::2, :], counts[..., 1::2, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        rates = hit / reach
    g = rates.shape[-1]
    filled = np.empty((*rates.shape[:-1], n_positions))
    last = np.zeros(rates.shape[:-1])
    for i in range(n_positions):
        if i < g:
            here = rates[..., i]
            last = np.where(np.isfinite(here), here, last)
        filled[..., i] = last
    return filled


def step_expectations(
    rates: np.ndarray,
    gamma: int | Sequence[int],
    n_max: int,
    *,
    budget: bool,
    by_position: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the expected steps and proposed drafts to emit r tokens, r = 0..n_max.

    Parameters
    ----------
    rates : ndarray, shape (..., 3, >= max gamma)
        :func:`rate_profile` output.
    gamma : int or sequence of int
        Draft length(s); several are computed in one pass.
    n_max : int
        Largest token count wanted.
    budget : bool
        Whether the r tokens are the whole budget (a step then requests
        ``min(gamma, r - 1)`` drafts), or the output ends earlier by itself
        (every step requests gamma).
    by_position : bool
        Split the proposed drafts by position: ``drafted[..., i - 1, r]`` is
        the expected number of steps that proposed draft i. A verify whose
        cost is not linear in its tokens is priced from these.

    Returns
    -------
    steps, drafted : ndarray, shape (..., n_max + 1)
        With a sequence of gammas, a leading axis runs over them;
        ``by_position`` puts a position axis (max gamma long) before the last.
    """
    gammas = np.atleast_1d(np.asarray(gamma, dtype=int))
    top = int(gammas.max())
    e, d, a = rates[..., 0, :top], rates[..., 1, :top], rates[..., 2, :top]
    batch = rates.shape[:-2]
    ones = np.ones((*batch, 1))
    # P(A >= i), i = 0..top, and P(draft i proposed | k requested) for k = 0..top.
    reach = np.concatenate([ones, np.cumprod(d * a, axis=-1)], axis=-1)
    requested = np.arange(top + 1)[:, None] > np.arange(top)[None, :]  # (k, position)
    proposed = requested.reshape(top + 1, *([1] * len(batch)), top) * np.cumprod(e, axis=-1)
    reach = np.moveaxis(reach, -1, 0)  # (top + 1, *batch)
    shape = (len(gammas), *([1] * len(batch)))
    steps = np.zeros((n_max + 1, len(gammas), *batch))
    drafted = np.zeros((n_max + 1, len(gammas), *batch, top))
    for r in range(1, n_max + 1):
        k = np.minimum(gammas, r - 1) if budget else gammas
        kk = k.reshape(shape)
        s = np.ones((len(gammas), *batch))
        dr = proposed[k].copy()
        for n_acc in range(int(k.max()) + 1):
            # P(A = n_acc) for a step requesting k drafts (A = k when all are accepted).
            after = reach[n_acc + 1] if n_acc < top else 0.0
            p = np.where(n_acc < kk, reach[n_acc] - after, reach[n_acc])
            p = np.where(n_acc <= kk, p, 0.0)
            left = max(r - n_acc - 1, 0)
            s += p * steps[left]
            dr += p[..., None] * drafted[left]
        steps[r], drafted[r] = s, dr
    steps = np.moveaxis(steps, 0, -1)
    drafted = np.moveaxis(drafted, 0, -1)  # (gammas, *batch, top, n_max + 1)
    if not by_position:
        drafted = drafted.sum(axis=-2)
    if np.ndim(gamma) == 0:
        return steps[0], drafted[0]
    return steps, drafted


@dataclass(frozen=True)
class _PromptCosts:
    """Per-prompt cost-model figures, in records order."""

    plain_s: np.ndarray  #: modelled plain decode time
    prefill_s: np.ndarray  #: speculative prefill (unscaled)
    per_step_s: np.ndarray  #: draft_fixed + verify(1) + loop
    #: (n, positions): draft i's cost, draft_per_token + verify(i + 1) - verify(i)
    per_draft_s: np.ndarray
    scale: np.ndarray  #: spec calibration
    n_tokens: np.ndarray  #: output tokens (int)
    budget: np.ndarray  #: whether the output ran to the token budget


def verify_costs(
    records: Sequence[Mapping[str, Any]], model: CostModel, n_tokens: int
) -> np.ndarray:
    """Return the cost of a verify forward of 1..n_tokens tokens, for one device.

    The median of the run's own verifies of that many tokens where at least
    :data:`MIN_VERIFIES` were timed, else the cost model's straight line.
    A forward's cost need not be linear in its tokens (on a CPU, matrix
    kernels change with the shape: in one audit of the demo pair on a
    2-core CPU, verifies of 1..5 tokens took 11.8, 16.3, 18.3, 19.6 and
    18.3 ms), and an audit at draft length G times some shorter verifies at
    the end of every budgeted output, which is what a prediction for a
    shorter draft length needs.

    Parameters
    ----------
    records : sequence of dict
        The records of one device (one cost-model key).
    model : CostModel
        Their fitted cost model.
    n_tokens : int
        Largest verify wanted.

    Returns
    -------
    ndarray, shape (n_tokens,)
        Seconds, for 1..n_tokens tokens.
    """
    timed: dict[int, list[float]] = {}
    for r in records:
        for step in r["steps"]:
            if step.get("verify_time_s") is not None:
                timed.setdefault(int(step["drafted"]) + 1, []).append(float(step["verify_time_s"]))
    k = np.arange(1, n_tokens + 1)
    line = model.verify_fixed_s + model.verify_per_token_s * k
    return np.array(
        [
            float(np.median(timed[j])) if len(timed.get(j, ())) >= MIN_VERIFIES else line[j - 1]
            for j in k
        ]
    )


def _prompt_costs(
    records: Sequence[Mapping[str, Any]], max_new_tokens: int, n_positions: int
) -> _PromptCosts:
    models = fit_cost_models(records)
    by_key: dict[Any, list[Mapping[str, Any]]] = {}
    for r in records:
        by_key.setdefault(cost_key(r), []).append(r)
    verify = {key: verify_costs(rs, models[key], n_positions + 1) for key, rs in by_key.items()}
    n = len(records)
    fields = {k: np.zeros(n) for k in ("plain", "prefill", "step", "scale")}
    per_draft = np.zeros((n, n_positions))
    for p, r in enumerate(records):
        m, v = models[cost_key(r)], verify[cost_key(r)]
        length = len(r.get("prompt_ids") or ())
        plain_ids = r.get("baseline_output_ids")
        plain_tokens = len(plain_ids if plain_ids is not None else r["output_ids"])
        fields["plain"][p] = float(m.plain_s(length, plain_tokens))
        fields["prefill"][p] = m.spec_prefill_fixed_s + m.spec_prefill_per_token_s * length
        fields["step"][p] = m.draft_fixed_s + v[0] + m.spec_loop_s
        per_draft[p] = m.draft_per_token_s + np.diff(v)
        fields["scale"][p] = m.spec_scale
    # The tokens the steps made: the whole output, less a first token that
    # the prefill made (first_token "prefill", and every serving backend).
    n_tokens = np.array(
        [sum(s.get("emitted", s["accepted"] + 1) for s in r["steps"]) for r in records], dtype=int
    )
    budget = np.array([r.get("stop_reason") == "max_new_tokens" for r in records], dtype=bool) | (
        n_tokens >= max_new_tokens
    )
    return _PromptCosts(
        fields["plain"],
        fields["prefill"],
        fields["step"],
        per_draft,
        fields["scale"],
        n_tokens,
        budget,
    )


def _statistic(counts: np.ndarray, costs: _PromptCosts, gammas: Sequence[int]):
    """Vectorised statistic: row numbers of prompts -> predicted speed-up per gamma."""
    n_max = int(costs.n_tokens.max()) if len(costs.n_tokens) else 0
    n_positions = max(gammas)
    any_free = bool((~costs.budget).any())

    def statistic(rows: np.ndarray, axis: int = -1) -> np.ndarray:
        rows = np.moveaxis(np.asarray(rows), axis, -1)
        rates = rate_profile(counts[rows].sum(axis=-3), n_positions)
        tokens = costs.n_tokens[rows]
        budget = costs.budget[rows]
        plain = costs.plain_s[rows].sum(axis=-1)
        # (gammas, ..., n_max + 1) tables, read at each prompt's token count;
        # proposed drafts keep a position axis before the last.
        at = np.broadcast_to(tokens, (len(gammas), *tokens.shape))
        at_position = at[..., None, :]

        def read(budgeted: bool) -> tuple[np.ndarray, np.ndarray]:
            steps, drafted = step_expectations(
                rates, list(gammas), n_max, budget=budgeted, by_position=True
            )
            return (
                np.take_along_axis(steps, at, axis=-1),
                np.take_along_axis(drafted, at_position, axis=-1),
            )

        steps, drafted = read(True)
        if any_free:
            free_steps, free_drafted = read(False)
            steps = np.where(budget, steps, free_steps)
            drafted = np.where(budget[..., None, :], drafted, free_drafted)
        per_draft = np.moveaxis(costs.per_draft_s[rows], -1, -2)  # (..., positions, prompts)
        spec = costs.scale[rows] * (
            costs.prefill_s[rows]
            + steps * costs.per_step_s[rows]
            + (drafted * per_draft).sum(axis=-2)
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            return plain / spec.sum(axis=-1)

    return statistic


def predict_run(
    records: Sequence[Mapping[str, Any]],
    *,
    gamma: int,
    max_new_tokens: int,
    gammas: Sequence[int] = GAMMAS,
    n_boot: int = 1000,
    rng: np.random.Generator,
    confidence_level: float = 0.95,
    min_prompts: int = 10,
) -> list[GroupPrediction]:
    """Predict every group's speed-up at each draft length in ``gammas``.

    Parameters
    ----------
    records : sequence of dict
        Validated records of one audit (one drafter, one draft length).
    gamma : int
        The audit's draft length (its ``config.yaml``).
    max_new_tokens : int
        The audit's token budget per prompt.
    gammas : sequence of int
        Draft lengths to predict (each >= 1).
    n_boot : int
        Bootstrap resamples per group.
    rng : numpy.random.Generator
        Source of the resampling.
    confidence_level : float
        Two-sided level of the intervals.
    min_prompts : int
        Groups with fewer prompts get no interval.

    Returns
    -------
    list of GroupPrediction
        Groups in first-seen order, each with every gamma of ``gammas``.
    """
    if any(g < 1 for g in gammas):
        raise ValueError(f"draft lengths must be at least 1, got {list(gammas)}")
    costs = _prompt_costs(records, max_new_tokens, max(gammas))
    counts = position_counts(records, gamma=gamma, max_new_tokens=max_new_tokens)
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        groups.setdefault(f"{r['language']}/{r['task']}", []).append(i)
    out = []
    for name, members in groups.items():
        at = np.asarray(members)
        sub = _PromptCosts(*(getattr(costs, f)[at] for f in _PromptCosts.__dataclass_fields__))
        statistic = _statistic(counts[at], sub, gammas)
        rows = np.arange(len(at))
        if len(at) >= max(min_prompts, 2):
            iv = bootstrap_intervals(
                (rows,),
                statistic,
                n_boot=n_boot,
                rng=rng,
                confidence_level=confidence_level,
                n_units=len(at),
            )
            estimate, low, high = iv.estimate, iv.low, iv.high
        else:
            estimate = statistic(rows)
            low = high = np.full(len(gammas), np.nan)
        for j, g in enumerate(gammas):
            out.append(
                GroupPrediction(
                    group=name,
                    gamma=int(g),
                    estimate=float(estimate[j]),
                    low=float(low[j]),
                    high=float(high[j]),
                    extrapolated=max(0, int(g) - gamma),
                    n_prompts=len(at),
                )
            )
    return out
