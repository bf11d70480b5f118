"""Stalls inside a decode: single steps far slower than the decode's own typical step.

A burst on a shared machine often lasts less than one decode: a few of its
forwards take several times their usual time while the rest run normally.
Flagging the whole decode (:mod:`specaudit.metrics.timing`) throws away the
good steps and sees a short burst only once it is large. This module looks at
every timed step instead (``docs/method.md#step-stalls``).

Each step's measured time is divided by its cost-model price (one plain step
costs ``plain_step_s``; a speculative step of k drafts costs
``draft(k) + verify(k + 1)``), and the median of those ratios over the
decode is the decode's *typical speed*: its context length, its cache state
and the machine's steady load are all in it. A step is *stalled* when

    measured > fence * typical speed * price,
    fence = max(1.5, exp(z * sigma)),   z = Phi^-1(1 - 0.05 / n_steps),

with sigma the robust spread of the fast half of the log ratios (stalls
are one-sided; :func:`specaudit.metrics._common.lower_spread`), each
centred on its decode's median, over all the run's steps of that decode
kind: a 5%
family-wise false-stall rate over the run's steps were the ratios normal,
and never under a 50% excess, which ordinary step-to-step jitter (a few per
cent on a CPU, sub-per-cent on a GPU) does not reach. A stalled step counts
at the decode's typical speed, ``typical speed * price``; its excess over
that is *trimmed* from the decode's time. The trimmed time is still the time
for the work, less the part that a co-tenant took.

Steps outside the timed forwards (the loop, prefill) are never trimmed; a
decode stalled throughout has no typical step to compare with, and the
decode-level outlier test catches it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import norm

from specaudit.metrics._common import lower_spread
from specaudit.metrics.costmodel import CostModel, cost_key

__all__ = [
    "STEP_FENCE",
    "StepTrim",
    "decode_excess",
    "spec_step_costs",
    "stall_excess",
    "step_fence",
    "trim_step_stalls",
]

#: Smallest step excess, as a ratio to the decode's typical step, that counts as a stall.
STEP_FENCE = 1.5
#: Family-wise false-stall rate over a run's steps of one decode kind.
FALSE_STALL_RATE = 0.05


def spec_step_costs(model: CostModel, drafted: Any) -> np.ndarray:
    """Cost-model price of speculative steps with ``drafted`` drafts each: draft + verify."""
    k = np.asarray(drafted, dtype=float)
    draft = model.draft_fixed_s + model.draft_per_token_s * k
    return draft + model.verify_fixed_s + model.verify_per_token_s * (k + 1.0)


def _log_ratios(measured: Any, price: Any) -> np.ndarray:
    """Log of measured / price per step, centred on the decode's median (NaN if none is finite)."""
    t, c = np.asarray(measured, dtype=float), np.asarray(price, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.log(t / c)
    ok = np.isfinite(r)
    return r - np.median(r[ok]) if ok.any() else np.full(len(t), np.nan)


def _excess(measured: np.ndarray, centred: np.ndarray, fence: float) -> np.ndarray:
    """Seconds above the typical speed of steps whose centred log ratio passes the fence."""
    stalled = np.isfinite(centred) & (centred > np.log(fence))
    return np.where(stalled, measured * (1.0 - np.exp(-np.where(stalled, centred, 0.0))), 0.0)


def step_fence(centred_log_ratios: Sequence[np.ndarray]) -> float:
    """Return the stall fence (a ratio) from the centred step log ratios of one kind."""
    values = np.concatenate([np.asarray(v, float) for v in centred_log_ratios] or [np.zeros(0)])
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return STEP_FENCE
    z = float(norm.isf(FALSE_STALL_RATE / len(values)))
    return float(max(STEP_FENCE, np.exp(z * lower_spread(values))))


def stall_excess(measured: Any, price: Any, fence: float = STEP_FENCE) -> np.ndarray:
    """Per-step time above the decode's typical speed, for steps past the fence; 0 elsewhere.

    Parameters
    ----------
    measured : array_like
        Measured time of each step of one decode.
    price : array_like
        Each step's cost-model price (any common scale: only ratios matter).
    fence : float
        A step is stalled when its ratio to the decode's median ratio exceeds this.

    Returns
    -------
    ndarray
        Seconds to trim from each step (``measured - typical``, or 0).
    """
    t = np.asarray(measured, dtype=float)
    return _excess(t, _log_ratios(t, price), fence)


def decode_excess(
    model: CostModel,
    *,
    plain_step_times: Sequence[float],
    draft_times: Sequence[float],
    verify_times: Sequence[float],
    drafted: Sequence[int],
    fences: Mapping[str, float] | None = None,
) -> tuple[float, float, int]:
    """Seconds to trim from one prompt's plain and speculative decode, and the steps trimmed.

    ``fences`` maps ``"plain"`` and ``"spec"`` to :func:`step_fence` values
    (:data:`STEP_FENCE` for both where omitted).
    """
    fences = fences or {}
    plain = stall_excess(
        plain_step_times, np.full(len(plain_step_times), model.plain_step_s),
        fences.get("plain", STEP_FENCE),
    )  # fmt: skip
    spec_times = np.asarray(draft_times, float) + np.asarray(verify_times, float)
    spec = stall_excess(spec_times, spec_step_costs(model, drafted), fences.get("spec", STEP_FENCE))
    return float(plain.sum()), float(spec.sum()), int((plain > 0).sum() + (spec > 0).sum())


@dataclass(frozen=True)
class StepTrim:
    """Stalled steps found in a run's chosen timings, in records order.

    Attributes
    ----------
    plain_excess_s, spec_excess_s : ndarray
        Seconds trimmed from each prompt's plain and speculative decode.
    n_steps_trimmed : int
        Steps counted at their decode's typical speed.
    fences : dict
        The stall fence per decode kind, as a ratio to the typical step.
    """

    plain_excess_s: np.ndarray
    spec_excess_s: np.ndarray
    n_steps_trimmed: int
    fences: dict[str, float]

    def share(self, plain_s: Any, spec_s: Any) -> float:
        """Share of the run's measured decode time that was trimmed."""
        total = float(np.nansum(plain_s) + np.nansum(spec_s))
        trimmed = float(self.plain_excess_s.sum() + self.spec_excess_s.sum())
        return trimmed / total if total > 0 else 0.0


def _decode_steps(
    record: Mapping[str, Any], model: CostModel
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Each decode kind's step times and their centred log ratios to the model's prices."""
    plain = np.asarray(record.get("plain_step_times_s") or [], dtype=float)
    steps = record["steps"]
    spec = np.array([s.get("draft_time_s", np.nan) + s.get("verify_time_s", np.nan) for s in steps])
    spec_price = spec_step_costs(model, [s["drafted"] for s in steps])
    return (
        (plain, _log_ratios(plain, np.full(len(plain), model.plain_step_s))),
        (spec, _log_ratios(spec, spec_price)),
    )


def trim_step_stalls(
    records: Sequence[Mapping[str, Any]],
    models: Mapping[str, CostModel],
    *,
    timed: Sequence[bool] | None = None,
) -> StepTrim:
    """Find the stalled steps of every record's chosen timings.

    Parameters
    ----------
    records : sequence of dict
        Validated records.
    models : mapping
        Cost models by :func:`~specaudit.metrics.costmodel.cost_key`.
    timed : sequence of bool, optional
        Which records to judge (all by default). Version-1 records, which
        hold no timing attempts, keep their measured times everywhere.

    Returns
    -------
    StepTrim
    """
    judged = np.ones(len(records), bool) if timed is None else np.asarray(timed, bool)
    decodes = [
        _decode_steps(r, models[cost_key(r)]) if ok else None
        for r, ok in zip(records, judged, strict=True)
    ]
    fences = {
        kind: step_fence([d[j][1] for d in decodes if d is not None])
        for j, kind in enumerate(("plain", "spec"))
    }
    excess = np.zeros((len(records), 2))
    trimmed = 0
    for i, d in enumerate(decodes):
        if d is None:
            continue
        for j, kind in enumerate(("plain", "spec")):
            x = _excess(*d[j], fences[kind])
            excess[i, j] = x.sum()
            trimmed += int((x > 0).sum())
    return StepTrim(excess[:, 0], excess[:, 1], trimmed, fences)
