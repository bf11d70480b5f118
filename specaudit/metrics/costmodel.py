"""The calibrated cost model: what each forward costs, fitted from a run's own records.

Every timed operation of an audit is recorded (``docs/method.md#cost-model``):
each plain decode step, each speculative step's drafting and verification,
and both prefills. From them, one model per device:

- ``plain_step_s``: one plain decode step (a one-token target forward plus
  choosing the token);
- ``verify(n) = verify_fixed_s + verify_per_token_s * n``: a verify step that
  scores ``n = k + 1`` tokens (the target forward, the acceptance rule and the
  divergences);
- ``draft(k) = draft_fixed_s + draft_per_token_s * k``: proposing k drafts;
- ``spec_loop_s`` and ``plain_loop_s``: per-step time outside those
  (emitting tokens; plain's is 0 where steps are timed whole);
- ``prefill(L) = fixed + per_token * L`` for each decode, L prompt tokens.

Every coefficient is a median (or a median regression,
``statsmodels.QuantReg`` at q = 0.5) over single forwards, so a stall that
slows a few forwards, or every forward of a few prompts, does not move it.
Single forwards are right-skewed, though (a plain step's mean is about 4%
above its median on a CPU, a verify's 1%), and a decode's time is a sum of
forwards, so a median-priced decode would run short by a different amount
for each kind. One calibration factor per decode kind puts that back:
``plain_scale`` (``spec_scale``) is the median over prompts of measured over
median-priced plain (speculative) time, itself robust to stalled prompts.
The target's forward time as a function of the tokens it scores is
``t(n) = plain_step_s + verify_per_token_s * (n - 1)``; the fixed per-step
overhead of speculation is then ``verify(1) - t(1) + spec_loop_s``.

A prompt's *modelled* plain and speculative times follow from its counts
alone (prompt tokens, plain tokens, speculative steps and drafted tokens),
so the modelled speed-up cannot be moved by a stalled prompt.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from specaudit.metrics._common import finite_median

__all__ = ["CostModel", "cost_key", "fit_cost_models", "modelled_times", "timing_table"]

#: Observations away from the commonest x that a median regression needs for a slope.
_MIN_PER_X = 5
#: Device label of records that do not name theirs (written before device_name existed).
UNKNOWN_DEVICE = "unknown device"


@dataclass(frozen=True)
class CostModel:
    """Fitted per-operation costs of one device, in seconds.

    Attributes
    ----------
    device : str
        The ``device_name`` of the records it was fitted on.
    n_prompts, n_plain_steps, n_spec_steps : int
        Observations behind the fit.
    plain_step_s : float
        Median plain decode step (one-token forward and token choice).
    plain_loop_s : float
        Median per-token plain time outside the timed steps.
    verify_fixed_s, verify_per_token_s : float
        Verify step cost ``verify_fixed_s + verify_per_token_s * n`` for n
        scored tokens.
    draft_fixed_s, draft_per_token_s : float
        Drafting cost ``draft_fixed_s + draft_per_token_s * k`` for k drafts.
    spec_loop_s : float
        Median per-step speculative time outside drafting and verifying.
    plain_prefill_fixed_s, plain_prefill_per_token_s : float
        Plain prefill cost for a prompt of L tokens.
    spec_prefill_fixed_s, spec_prefill_per_token_s : float
        Speculative prefill (target and drafter) for a prompt of L tokens.
    per_step : bool
        Whether plain steps were timed one by one (record version 2); version
        1 gives one mean per prompt, whose median stands in for ``plain_step_s``.
    plain_scale, spec_scale : float
        Calibration of median-priced decode times to the typical measured
        time (see the module docstring); 1.0 before calibration.
    """

    device: str
    n_prompts: int
    n_plain_steps: int
    n_spec_steps: int
    plain_step_s: float
    plain_loop_s: float
    verify_fixed_s: float
    verify_per_token_s: float
    draft_fixed_s: float
    draft_per_token_s: float
    spec_loop_s: float
    plain_prefill_fixed_s: float
    plain_prefill_per_token_s: float
    spec_prefill_fixed_s: float
    spec_prefill_per_token_s: float
    per_step: bool
    plain_scale: float = 1.0
    spec_scale: float = 1.0

    def target_forward_s(self, n_tokens: Any) -> np.ndarray:
        """Target forward time scoring ``n_tokens`` tokens: ``t(1)`` is a plain step."""
        n = np.asarray(n_tokens, dtype=float)
        return self.plain_step_s + self.verify_per_token_s * (n - 1.0)

    @property
    def step_overhead_s(self) -> float:
        """Fixed cost of a speculative step beyond its target forward and drafts."""
        return self.verify_fixed_s + self.verify_per_token_s - self.plain_step_s + self.spec_loop_s

    def plain_s(self, prompt_tokens: Any, n_tokens: Any) -> np.ndarray:
        """Modelled plain decode time of prompts (prefill included)."""
        L, n = np.asarray(prompt_tokens, dtype=float), np.asarray(n_tokens, dtype=float)
        prefill = self.plain_prefill_fixed_s + self.plain_prefill_per_token_s * L
        return self.plain_scale * (prefill + n * (self.plain_step_s + self.plain_loop_s))

    def spec_s(self, prompt_tokens: Any, n_steps: Any, drafted: Any) -> np.ndarray:
        """Modelled speculative decode time: prefill plus every step's draft and verify.

        ``drafted`` is the sum of k over the prompt's steps; a step of k drafts
        costs ``draft(k) + verify(k + 1) + spec_loop_s``.
        """
        L = np.asarray(prompt_tokens, dtype=float)
        steps, k = np.asarray(n_steps, dtype=float), np.asarray(drafted, dtype=float)
        prefill = self.spec_prefill_fixed_s + self.spec_prefill_per_token_s * L
        per_step = self.draft_fixed_s + self.verify_fixed_s + self.verify_per_token_s
        per_step += self.spec_loop_s
        per_draft = self.draft_per_token_s + self.verify_per_token_s
        return self.spec_scale * (prefill + steps * per_step + k * per_draft)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form, with the derived target-forward figures.

        A cost the records could not price (a serving backend times no
        single forward, docs/serving.md) is NaN here and ``null`` in JSON.
        """
        out = asdict(self)
        out["target_forward_1_s"] = float(self.target_forward_s(1))
        out["step_overhead_s"] = self.step_overhead_s
        return {
            k: None if isinstance(v, float) and not np.isfinite(v) else v for k, v in out.items()
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CostModel:
        """Build from :meth:`to_dict` output (derived figures are ignored)."""
        return cls(
            **{
                name: np.nan if data[name] is None else data[name]
                for name in cls.__dataclass_fields__
            }
        )


def cost_key(record: Mapping[str, Any]) -> str:
    """Which cost model prices ``record``: its device, and in a routed run its setting.

    A routed run (``run --routing``) decodes groups with different drafters
    and draft lengths, whose drafting costs differ by orders of magnitude (a
    neural drafter against an n-gram table), so each setting gets its own fit.
    """
    device = record.get("device_name") or UNKNOWN_DEVICE
    if record.get("drafter") is None:
        return device
    return f"{device} · {record['drafter']} γ={record.get('gamma')}"


def timing_table(records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per prompt with what the cost model reads, in ``records`` order.

    Columns: ``device`` (the :func:`cost_key`), ``prompt_tokens``, ``plain_tokens``, ``n_steps``,
    ``drafted``, ``plain_s``, ``plain_prefill_s``, ``spec_s``,
    ``spec_prefill_s``, ``plain_steps_s`` (the summed timed plain steps, NaN
    in version 1) and ``spec_steps_s`` (summed draft and verify times).
    """
    rows = []
    for r in records:
        steps = r["steps"]
        plain_steps = r.get("plain_step_times_s")
        plain_ids = r.get("baseline_output_ids")
        rows.append(
            (
                cost_key(r),
                len(r.get("prompt_ids") or ()),
                len(plain_ids if plain_ids is not None else r["output_ids"]),
                len(steps),
                sum(s["drafted"] for s in steps),
                _seconds(r["baseline_time_s"]),
                float(r.get("baseline_prefill_time_s") or 0.0),
                _seconds(r["spec_time_s"]),
                float(r.get("prefill_time_s") or 0.0),
                float(sum(plain_steps)) if plain_steps is not None else np.nan,
                _step_seconds(steps),
            )
        )
    columns = [
        "device",
        "prompt_tokens",
        "plain_tokens",
        "n_steps",
        "drafted",
        "plain_s",
        "plain_prefill_s",
        "spec_s",
        "spec_prefill_s",
        "plain_steps_s",
        "spec_steps_s",
    ]
    return pd.DataFrame.from_records(rows, columns=columns)


def _seconds(value: Any) -> float:
    """Return a recorded time; NaN where the backend did not measure it (``null``)."""
    return np.nan if value is None else float(value)


def _step_seconds(steps: Sequence[Mapping[str, Any]]) -> float:
    """Sum the draft and verify times of a prompt's steps; NaN if any is unmeasured.

    Serving backends (docs/serving.md) report no per-step times: their
    records write ``null`` there, and the fit then rests on what they do give.
    """
    times = [s.get(k, 0.0) for s in steps for k in ("draft_time_s", "verify_time_s")]
    return np.nan if any(t is None for t in times) else float(sum(times))


def _median_line(x: np.ndarray, y: np.ndarray, *, clamp: bool = True) -> tuple[float, float]:
    """Median regression ``y ~ a + b x`` with ``b >= 0``; a flat median where x hardly varies.

    Unmeasured points (NaN ``y``) are left out; with none left, ``(nan, 0)``.
    ``clamp=False`` gives the free fit (``bench/verify_lengths.py`` compares).
    More tokens should not make an operation cheaper, and a falling line
    would price longer drafts below shorter ones where it is read beyond
    the lengths observed. Yet where nearly all points share one x (with
    γ = 4 nearly every verify scores 5 tokens), the few others decide the
    slope, and on the project's CPU their medians do not rise with x
    (``python bench/verify_lengths.py``), so the free fit can fall
    (``docs/method.md#cost-model``). The absolute loss is
    convex in ``(a, b)``, so when its free minimum has ``b < 0`` the minimum
    over ``b >= 0`` lies on ``b = 0``, where ``a`` is the median.
    """
    keep = np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(y) == 0:
        return float("nan"), 0.0
    _, counts = np.unique(x, return_counts=True)
    if len(counts) < 2 or len(x) - counts.max() < _MIN_PER_X:
        return float(np.median(y)), 0.0
    from statsmodels.regression.quantile_regression import QuantReg

    design = np.column_stack([np.ones_like(x, dtype=float), x.astype(float)])
    with warnings.catch_warnings():
        # The fit also estimates a bandwidth for standard errors, which divides
        # by zero on tied residuals; the coefficients, all we use, are sound.
        warnings.simplefilter("ignore", RuntimeWarning)
        fit = QuantReg(y, design).fit(q=0.5, max_iter=2000)
    a, b = (float(v) for v in fit.params)
    if clamp and b < 0:
        return float(np.median(y)), 0.0
    return a, b


def _fit_device(device: str, records: list[Mapping[str, Any]], table: pd.DataFrame) -> CostModel:
    plain_steps = [t for r in records for t in (r.get("plain_step_times_s") or ())]
    per_step = len(plain_steps) > 0
    plain_tokens = table["plain_tokens"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if per_step:
            plain_step = float(np.median(plain_steps))
            outside = (table["plain_s"] - table["plain_prefill_s"] - table["plain_steps_s"]) / (
                plain_tokens
            )
            plain_loop = finite_median(outside.to_numpy(float))
        else:
            # Version 1: one mean step per prompt, the loop included.
            per_prompt = (table["plain_s"] - table["plain_prefill_s"]) / plain_tokens
            plain_step, plain_loop = finite_median(per_prompt.to_numpy(float)), 0.0
    steps = [s for r in records for s in r["steps"]]
    drafted = np.array([s["drafted"] for s in steps], dtype=float)
    verify = np.array([s.get("verify_time_s", np.nan) for s in steps], dtype=float)
    draft = np.array([s.get("draft_time_s", np.nan) for s in steps], dtype=float)
    verify_fixed, verify_per = _median_line(drafted + 1.0, verify)
    draft_fixed, draft_per = _median_line(drafted, draft)
    n_steps = table["n_steps"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        loop = (table["spec_s"] - table["spec_prefill_s"] - table["spec_steps_s"]) / n_steps
    loop = loop.to_numpy(float)
    spec_loop = finite_median(loop, empty=0.0)
    tokens = table["prompt_tokens"].to_numpy(float)
    plain_prefill = _median_line(tokens, table["plain_prefill_s"].to_numpy(float))
    spec_prefill = _median_line(tokens, table["spec_prefill_s"].to_numpy(float))
    model = CostModel(
        device=device,
        n_prompts=len(records),
        n_plain_steps=len(plain_steps) if per_step else int(plain_tokens.sum()),
        n_spec_steps=len(steps),
        plain_step_s=plain_step,
        plain_loop_s=plain_loop,
        verify_fixed_s=verify_fixed,
        verify_per_token_s=verify_per,
        draft_fixed_s=draft_fixed,
        draft_per_token_s=draft_per,
        spec_loop_s=spec_loop,
        plain_prefill_fixed_s=plain_prefill[0],
        plain_prefill_per_token_s=plain_prefill[1],
        spec_prefill_fixed_s=spec_prefill[0],
        spec_prefill_per_token_s=spec_prefill[1],
        per_step=per_step,
    )
    plain = model.plain_s(table["prompt_tokens"], table["plain_tokens"])
    spec = model.spec_s(table["prompt_tokens"], table["n_steps"], table["drafted"])
    return replace(
        model,
        plain_scale=_median_ratio(table["plain_s"].to_numpy(float), plain),
        spec_scale=_median_ratio(table["spec_s"].to_numpy(float), spec),
    )


def _median_ratio(measured: np.ndarray, modelled: np.ndarray) -> float:
    """Median of measured / modelled over prompts where both are positive (1.0 if none)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = measured / modelled
    ratio = ratio[np.isfinite(ratio) & (ratio > 0)]
    return float(np.median(ratio)) if len(ratio) else 1.0


def fit_cost_models(
    records: Sequence[Mapping[str, Any]], table: pd.DataFrame | None = None
) -> dict[str, CostModel]:
    """Fit one :class:`CostModel` per device from validated records.

    Parameters
    ----------
    records : sequence of dict
        Parsed ``records.jsonl`` lines, version 1 or 2.
    table : DataFrame, optional
        Their :func:`timing_table`, if already built.

    Returns
    -------
    dict
        Device name to its model, in order of first appearance.
    """
    if table is None:
        table = timing_table(records)
    models = {}
    for device, rows in table.groupby("device", sort=False):
        chosen = [records[i] for i in rows.index]
        models[str(device)] = _fit_device(str(device), chosen, rows)
    return models


def modelled_times(
    table: pd.DataFrame, models: Mapping[str, CostModel]
) -> tuple[np.ndarray, np.ndarray]:
    """Modelled plain and speculative time of every row of a :func:`timing_table`."""
    plain = np.full(len(table), np.nan)
    spec = np.full(len(table), np.nan)
    for device, rows in table.groupby("device", sort=False):
        model = models[str(device)]
        at = table.index.get_indexer(rows.index)
        plain[at] = model.plain_s(rows["prompt_tokens"], rows["plain_tokens"])
        spec[at] = model.spec_s(rows["prompt_tokens"], rows["n_steps"], rows["drafted"])
    return plain, spec
