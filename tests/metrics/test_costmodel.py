"""The cost model recovers known per-forward costs, with and without stalls."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from specaudit.metrics.costmodel import CostModel, fit_cost_models, modelled_times, timing_table
from specaudit.metrics.synthetic_timing import ForwardCosts, TimedGroup, timed_records

GROUPS = [
    TimedGroup("en", "story", alpha=0.8, n_prompts=60),
    TimedGroup("sw", "story", alpha=0.4, n_prompts=60),
    TimedGroup("de", "translation", alpha=0.6, n_prompts=60),
]
COSTS = ForwardCosts()


def _fit(records) -> CostModel:
    models = fit_cost_models(records)
    assert list(models) == ["simulated device"]
    return models["simulated device"]


def _operation_costs(c) -> dict[str, float]:
    """What each timed operation costs under coefficients ``c`` (a model or the truth)."""
    out = {"plain step": c.plain_step_s}
    for k in range(1, 5):
        out[f"draft of {k}"] = c.draft_fixed_s + c.draft_per_token_s * k
    for n in range(1, 6):
        out[f"verify of {n}"] = c.verify_fixed_s + c.verify_per_token_s * n
    for L in (20, 60, 100):
        out[f"plain prefill of {L}"] = c.plain_prefill_fixed_s + c.plain_prefill_per_token_s * L
        out[f"spec prefill of {L}"] = c.spec_prefill_fixed_s + c.spec_prefill_per_token_s * L
    return out


@pytest.mark.parametrize("stall_share", [0.0, 0.05])
def test_fit_recovers_known_costs_within_two_percent(stall_share):
    model = _fit(timed_records(GROUPS, stall_share=stall_share, seed=3))
    fitted, true = _operation_costs(model), _operation_costs(COSTS)
    for name, value in true.items():
        assert fitted[name] == pytest.approx(value, rel=0.02), name
    # The derived figures follow: t(1) is a plain step, t(5) adds 4 scored tokens.
    assert model.target_forward_s(5) == pytest.approx(0.010 + 4 * 0.001, rel=0.02)
    assert model.step_overhead_s == pytest.approx(0.012 + 0.001 - 0.010, rel=0.1)


def test_a_cost_that_falls_with_tokens_is_fitted_flat():
    # Verifies made cheaper for scoring more tokens: the free median line
    # would slope down; the fit clamps the slope at 0 and takes the median.
    costs = ForwardCosts(verify_fixed_s=0.016, verify_per_token_s=-0.0008)
    records = timed_records(GROUPS, costs, seed=9)
    model = _fit(records)
    verify = [s["verify_time_s"] for r in records for s in r["steps"]]
    assert model.verify_per_token_s == 0.0
    assert model.verify_fixed_s == pytest.approx(float(np.median(verify)), rel=1e-9)
    # A rising cost is untouched by the clamp.
    assert _fit(timed_records(GROUPS, seed=9)).verify_per_token_s == pytest.approx(
        COSTS.verify_per_token_s, rel=0.02
    )


def _stall(records, share: float, factor: float, seed: int):
    """Copies of ``records`` with one step of a ``share`` of them made ``factor`` x slower."""
    rng = np.random.default_rng(seed)
    out = copy.deepcopy(records)
    for r in out:
        if rng.random() < share:
            i = rng.integers(len(r["plain_step_times_s"]))
            extra = (factor - 1.0) * r["baseline_time_s"]
            r["plain_step_times_s"][i] += extra
            r["baseline_time_s"] += extra
    return out


def test_a_stall_does_not_move_the_fit_but_moves_a_mean():
    clean = timed_records(GROUPS, seed=4)
    stalled = _stall(clean, 0.10, 10.0, seed=0)
    a, b = _operation_costs(_fit(clean)), _operation_costs(_fit(stalled))
    for name, value in a.items():
        assert b[name] == pytest.approx(value, rel=0.01), name

    def mean(recs):
        return np.mean([t for r in recs for t in r["plain_step_times_s"]])

    assert mean(stalled) > 1.5 * mean(clean)


def test_modelled_times_match_noiseless_costs():
    records = timed_records(GROUPS, seed=5, forward_sd=1e-6, prompt_sd=1e-6)
    table = timing_table(records)
    model = _fit(records)
    plain, spec = modelled_times(table, {"simulated device": model})
    np.testing.assert_allclose(plain, table["plain_s"], rtol=1e-4)
    np.testing.assert_allclose(spec, table["spec_s"], rtol=1e-4)
    assert model.plain_scale == pytest.approx(1.0, abs=1e-4)


def test_one_model_per_device():
    records = timed_records(GROUPS, seed=6)
    for r in records[::2]:
        r["device_name"] = "other device"
        r["plain_step_times_s"] = [2 * t for t in r["plain_step_times_s"]]
    models = fit_cost_models(records)
    assert set(models) == {"simulated device", "other device"}
    ratio = models["other device"].plain_step_s / models["simulated device"].plain_step_s
    assert ratio == pytest.approx(2.0, rel=0.03)


def test_version_one_records_fit_from_per_prompt_means():
    records = timed_records(GROUPS, seed=7)
    for r in records:
        del r["plain_step_times_s"], r["timing_attempts"], r["timing_chosen"]
        r["record_version"] = 1
    model = _fit(records)
    assert not model.per_step
    assert model.plain_step_s == pytest.approx(COSTS.plain_step_s, rel=0.03)


def test_round_trip():
    model = _fit(timed_records(GROUPS[:1], seed=8))
    data = model.to_dict()
    assert data["target_forward_1_s"] == pytest.approx(model.plain_step_s)
    assert CostModel.from_dict(data) == model
