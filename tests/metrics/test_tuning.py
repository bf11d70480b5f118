"""Predicted speed-up per draft length (metrics.tuning) and the routing choice."""

from __future__ import annotations

import numpy as np
import pytest

from specaudit.metrics.costmodel import fit_cost_models
from specaudit.metrics.route_choice import choose_routes, summarise
from specaudit.metrics.routing import Route
from specaudit.metrics.tuning import (
    MIN_VERIFIES,
    position_counts,
    predict_run,
    rate_profile,
    step_expectations,
    verify_costs,
)
from tests.metrics.record_builders import record, step

# Known per-position conditional acceptance a_i and proposal continuation e_i
# (an n-gram-like drafter that sometimes stops), and known per-forward costs.
ACCEPT = np.array([0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55])
PROPOSE = np.full(8, 0.95)
PLAIN_STEP, VERIFY_FIXED, VERIFY_PER, DRAFT_FIXED, DRAFT_PER = 1.0, 0.9, 0.2, 0.02, 0.03


def _quantile_draws(survival: np.ndarray, n: int) -> np.ndarray:
    """n deterministic draws of X in 0..len(survival) with P(X >= i) about survival[i-1]."""
    u = (np.arange(n) + 0.5) / n
    return (u[:, None] < survival[None, :]).sum(axis=1)


# The records' exact conditional rates: the draws' own, which the grids round
# ACCEPT and PROPOSE to. Proposal and acceptance draws are fully crossed, so
# they are independent and d_i = e_i.
_PROPOSALS = _quantile_draws(np.cumprod(PROPOSE), 20)
_TRUTHS = _quantile_draws(np.cumprod(ACCEPT), 50)


def _rates(draws: np.ndarray, gamma: int) -> np.ndarray:
    draws = np.minimum(draws, gamma)
    survival = np.array([(draws >= i).mean() for i in range(gamma + 1)])
    return survival[1:] / survival[:-1]


def _linear_verify(tokens: int) -> float:
    return VERIFY_FIXED + VERIFY_PER * tokens


def _synthetic_records(
    gamma: int, n_prompts: int = 10, per_prompt: int = 100, verify=_linear_verify
) -> list[dict]:
    """Steps whose pooled profile is exactly ACCEPT / PROPOSE, timed by the known costs."""
    pairs = [(int(min(p, gamma)), int(min(p, t, gamma))) for p in _PROPOSALS for t in _TRUTHS]
    records = []
    for k in range(n_prompts):
        steps = []
        for drafted, accepted in pairs[k * per_prompt : (k + 1) * per_prompt]:
            s = step(drafted, accepted)
            s["draft_time_s"] = DRAFT_FIXED + DRAFT_PER * drafted
            s["verify_time_s"] = verify(drafted + 1)
            steps.append(s)
        r = record(steps, id=f"p{k}")
        n = len(r["output_ids"])
        r.update(
            stop_reason="eos",
            plain_step_times_s=[PLAIN_STEP] * n,
            baseline_time_s=PLAIN_STEP * n,
            baseline_prefill_time_s=0.0,
            prefill_time_s=0.0,
            spec_time_s=sum(s["draft_time_s"] + s["verify_time_s"] for s in steps),
        )
        records.append(r)
    return records


def _analytic(gamma: int, verify=_linear_verify) -> float:
    """Long-output speed-up: tokens per step over the step's cost in plain steps."""
    accept, propose = _rates(_TRUTHS, 8)[:gamma], _rates(_PROPOSALS, 8)[:gamma]
    tokens = 1.0 + np.cumprod(propose * accept).sum()
    survive = np.cumprod(propose)  # P(draft i proposed)
    # E[verify(P + 1)] = verify(1) + sum_i P(P >= i) (verify(i + 1) - verify(i)).
    verify_cost = verify(1) + sum(survive[i - 1] * (verify(i + 1) - verify(i)) for i in
                                  range(1, gamma + 1))  # fmt: skip
    cost = DRAFT_FIXED + DRAFT_PER * survive.sum() + verify_cost
    return PLAIN_STEP * tokens / cost


def test_profile_recovers_known_rates():
    records = _synthetic_records(8)
    counts = position_counts(records, gamma=8, max_new_tokens=10**6).sum(axis=0)
    rates = rate_profile(counts, 8)
    assert np.allclose(rates[2], _rates(_TRUTHS, 8))
    assert np.allclose(rates[0], _rates(_PROPOSALS, 8))
    assert np.allclose(rates[1], rates[0])
    # ... which are the intended profile up to the draws' grids.
    assert np.allclose(rates[2], ACCEPT, atol=0.06)


def test_predicted_optimum_is_the_analytic_one():
    records = _synthetic_records(8)
    preds = predict_run(
        records, gamma=8, max_new_tokens=10**6, n_boot=50, rng=np.random.default_rng(0)
    )
    predicted = np.array([p.estimate for p in preds])
    analytic = np.array([_analytic(g) for g in range(1, 9)])
    best = int(np.argmax(analytic))
    assert 0 < best < 7  # an interior optimum, so the test can fail either way
    assert int(np.argmax(predicted)) == best
    # Outputs are ~300 tokens: the end of the output moves the value by well under 2%.
    assert np.allclose(predicted, analytic, rtol=0.02)
    assert all(p.low <= p.estimate <= p.high for p in preds)


# A verify whose cost is far from linear in its tokens, as a CPU's is: steep
# from 1 to 3 tokens, then flat.
_CONCAVE = dict(zip(range(1, 10), (1.0, 1.35, 1.6, 1.65, 1.6, 1.62, 1.7, 1.75, 1.8), strict=True))


def test_prediction_prices_each_verify_length_as_timed():
    records = _synthetic_records(8, verify=_CONCAVE.get)
    preds = predict_run(
        records, gamma=8, max_new_tokens=10**6, n_boot=20, rng=np.random.default_rng(0)
    )
    predicted = np.array([p.estimate for p in preds])
    truth = np.array([_analytic(g, _CONCAVE.get) for g in range(1, 9)])
    assert np.allclose(predicted, truth, rtol=0.02)
    # A straight line fitted through the same verifies misprices them: the
    # test would catch a prediction that used it.
    (model,) = fit_cost_models(records).values()
    line = np.array(
        [
            _analytic(g, lambda k: model.verify_fixed_s + model.verify_per_token_s * k)
            for g in range(1, 9)
        ]
    )
    assert np.max(np.abs(line / truth - 1)) > 0.05


def test_verify_costs_fall_back_to_the_line_where_few_were_timed():
    records = _synthetic_records(2, verify=_CONCAVE.get)
    (model,) = fit_cost_models(records).values()
    line = model.verify_fixed_s + model.verify_per_token_s * np.arange(1, 6)
    costs = verify_costs(records, model, 5)
    assert costs[:3] == pytest.approx([_CONCAVE[k] for k in (1, 2, 3)])
    assert costs[3:] == pytest.approx(line[3:])
    # MIN_VERIFIES timed verifies of a length price it; one fewer, the line does.
    # (Two tokens: where the line, 1.30, and the timings, 1.35, differ.)
    two = [s for r in records for s in r["steps"] if s["drafted"] == 1]
    enough = [dict(records[0], steps=two[:MIN_VERIFIES])]
    few = [dict(records[0], steps=two[: MIN_VERIFIES - 1])]
    assert verify_costs(enough, model, 2)[1] == pytest.approx(_CONCAVE[2])
    assert verify_costs(few, model, 2)[1] == pytest.approx(line[1])


def test_budget_caps_drafts_and_extrapolation_holds_last_rate():
    # With the budget, the last step drafts at most (tokens left - 1).
    rates = np.ones((3, 4))
    steps, drafted = step_expectations(rates, 4, 7, budget=True)
    assert steps[7] == pytest.approx(2.0)  # 5 tokens, then 2 (one draft + bonus)
    assert drafted[7] == pytest.approx(5.0)
    # Audited at gamma = 2: positions 3.. hold position 2's rate.
    records = _synthetic_records(2)
    counts = position_counts(records, gamma=2, max_new_tokens=10**6).sum(axis=0)
    held = rate_profile(counts, 5)
    assert np.allclose(held[:, 2:], held[:, 1:2])
    preds = predict_run(
        records, gamma=2, max_new_tokens=10**6, n_boot=20, rng=np.random.default_rng(0)
    )
    flagged = {p.gamma for p in preds if p.long_extrapolation}
    assert flagged == {5, 6, 7, 8}


def test_prediction_at_audited_gamma_matches_the_records():
    # At the audited gamma, expected steps equal the recorded steps in total.
    records = _synthetic_records(8)
    preds = predict_run(
        records, gamma=8, max_new_tokens=10**6, n_boot=20, rng=np.random.default_rng(0)
    )
    measured = sum(r["baseline_time_s"] for r in records) / sum(r["spec_time_s"] for r in records)
    assert preds[-1].estimate == pytest.approx(measured, rel=0.01)


def test_maximin_two_groups_by_hand():
    # Group A is served best by X, group B by Y; by language, one setting for both.
    x, y = Route("x", 4), Route("y", 2)
    predicted = {x: {"a/t": 1.6, "b/t": 0.8}, y: {"a/t": 1.2, "b/t": 1.1}}
    per_group = choose_routes(predicted, ["a/t", "b/t"], objective="maximin")
    assert per_group.routes == {"a/t": x, "b/t": y}
    # Single setting: x's worst is 0.8, y's worst is 1.1 -> y.
    assert per_group.single == y
    # Shared by language "a" (a/t) vs "b" (b/t, b/u): b's worst under x is 0.8,
    # under y min(1.1, 0.9) = 0.9, under none 1.0 -> none for b.
    predicted[x]["b/u"], predicted[y]["b/u"] = 1.9, 0.9
    by_language = choose_routes(predicted, ["a/t", "b/t", "b/u"], by="language")
    assert by_language.routes == {"a": x, "b": Route("none", 0)}
    # The mean takes x for b: (0.8 + 1.9) / 2 = 1.35 beats 1.0 and 1.0.
    assert (
        choose_routes(predicted, ["a/t", "b/t", "b/u"], objective="mean", by="language").routes["b"]
        == x
    )
    # mean-no-loss refuses x (b/t at 0.8) and y (b/u at 0.9): none.
    no_loss = choose_routes(
        predicted, ["a/t", "b/t", "b/u"], objective="mean-no-loss", by="language"
    )
    assert no_loss.routes["b"] == Route("none", 0)
    assert no_loss.single_feasible is False


def test_summary_of_routed_speedups():
    s = summarise({"a/t": 1.6, "b/t": 1.1}, {"a/t": 2.0, "b/t": None})
    assert s.worst_group == "b/t" and s.worst == pytest.approx(1.1)
    assert s.min_max_ratio == pytest.approx(1.1 / 1.6)
    assert s.unfairness_u is None  # one drafting group has no spread
