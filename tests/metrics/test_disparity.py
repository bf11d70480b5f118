"""Spread of the groups: U, variance, min/max ratio, CV, worst group."""

from __future__ import annotations

import numpy as np
import pytest
from record_builders import group, step

from specaudit.metrics import MetricsResult, compute_metrics
from specaudit.metrics.disparity import (
    speedup_cv,
    speedup_min_max_ratio,
    speedup_variance,
    u_decomposition,
    unfairness_u,
    worst_group,
)


def test_spread_functions_by_hand():
    d = np.array([1.0, 2.0, 3.0])
    assert unfairness_u(d) == pytest.approx(2 / 3)  # population variance, equal weights
    s = np.array([1.0, 2.0, 4.0])
    assert speedup_variance(s) == pytest.approx(np.mean((s - 7 / 3) ** 2))
    assert speedup_min_max_ratio(s) == 0.25
    assert speedup_cv(s) == pytest.approx(np.std(s) / np.mean(s))
    assert worst_group(s, ["a", "b", "c"]) == "a"
    assert worst_group([np.nan, 2.0], ["a", "b"]) == "b"
    # Vectorised over leading axes (bootstrap replicates).
    np.testing.assert_allclose(unfairness_u(np.array([[1.0, 1.0], [0.0, 2.0]])), [0.0, 1.0])


def _audit():
    records = []
    for lang, ce, base in [("en", 1.0, 2.0), ("de", 2.0, 1.5), ("sw", 3.0, 1.0)]:
        records += group([step(4, 2, ce=ce)], 12, language=lang, baseline_time_s=base)
        records += group([step(4, 2, ce=ce)], 12, language=lang, task="u", baseline_time_s=base)
    return records


def test_disparity_within_task_and_across_groups():
    result = compute_metrics(_audit(), n_boot=200)
    disparity = result.disparity
    # Across all 6 groups: D = 1, 2, 3 twice -> U = 2/3; speed-ups 2, 1.5, 1 twice.
    assert len(disparity.groups) == 6
    assert disparity.unfairness_u.estimate == pytest.approx(2 / 3)
    assert disparity.speedup_min_max_ratio.estimate == pytest.approx(0.5)
    assert disparity.speedup_variance.estimate == pytest.approx(np.var([2, 1.5, 1]))
    assert disparity.worst_group in {"sw/t", "sw/u"}
    assert disparity.share_slower.estimate == 0.0
    assert [t.task for t in disparity.by_task] == ["t", "u"]
    for task in disparity.by_task:
        assert task.unfairness_u.estimate == pytest.approx(2 / 3)
        assert task.worst_group == f"sw/{task.task}"
        assert len(task.groups) == 3
    # Identical prompts: no sampling noise, the intervals collapse on the estimate.
    assert disparity.unfairness_u.ci_low == pytest.approx(2 / 3)


def test_small_groups_are_left_out_of_the_spread():
    records = _audit() + group([step(4, 2)], 3, language="fr")
    result = compute_metrics(records, n_boot=200)
    assert "fr/t" not in result.disparity.groups
    assert result.group("fr/t").status == "insufficient data"
    assert result.group("fr/t").speedup.ci_low is None
    assert any("fr/t" in note for note in result.notes)


def test_decomposition_identity_by_hand():
    # Three groups: H = 1, 2, 3 and KL = 0.5, 0.1, 0.3, so D = 1.5, 2.1, 3.3.
    h, kl = np.array([1.0, 2.0, 3.0]), np.array([0.5, 0.1, 0.3])
    var_h, var_kl, cov_term = u_decomposition(h, kl)
    assert var_h == pytest.approx(2 / 3)
    assert var_kl == pytest.approx(np.mean(np.array([0.2, -0.2, 0.0]) ** 2))
    # Cov = mean((H - 2) * (KL - 0.3)) = ((-1)(0.2) + 0 + (1)(0)) / 3
    assert cov_term == pytest.approx(2 * (-0.2 / 3))
    assert var_h + var_kl + cov_term == pytest.approx(unfairness_u(h + kl))
    # Vectorised over replicates like unfairness_u.
    reps = np.stack([h + kl, h])
    parts = u_decomposition(np.stack([h, h]), np.stack([kl, np.zeros(3)]))
    np.testing.assert_allclose(sum(parts), unfairness_u(reps))


def _decomposed_audit():
    # Per group (alpha, D, KL); H = D - KL = 1, 2, 3.
    records = []
    for lang, alpha, ce, kl in [
        ("en", 0.8, 1.5, 0.5),
        ("de", 0.6, 2.1, 0.1),
        ("sw", 0.4, 3.3, 0.3),
    ]:
        records += group([step(4, 2, alpha=alpha, ce=ce, kl=kl)], 12, language=lang)
    return records


def test_disparity_carries_the_decomposition_and_the_tv_figure():
    d = compute_metrics(_decomposed_audit(), n_boot=200).disparity
    assert d.unfairness_u.estimate == pytest.approx(np.var([1.5, 2.1, 3.3]))
    assert d.unfairness_u_entropy.estimate == pytest.approx(2 / 3)
    assert d.unfairness_u_kl.estimate == pytest.approx(np.var([0.5, 0.1, 0.3]))
    assert d.unfairness_u_covariance.estimate == pytest.approx(2 * (-0.2 / 3))
    parts = (d.unfairness_u_entropy, d.unfairness_u_kl, d.unfairness_u_covariance)
    assert sum(p.estimate for p in parts) == pytest.approx(d.unfairness_u.estimate)
    assert d.unfairness_u_tv.estimate == pytest.approx(np.var([0.2, 0.4, 0.6]))
    # Every part has an interval from the same bootstrap (identical prompts: a point).
    for p in (*parts, d.unfairness_u_tv):
        assert p.status == "ok" and p.ci_low == pytest.approx(p.estimate)
    assert d.floor_dominated == ()
    assert d.by_task[0].unfairness_u_kl.estimate == pytest.approx(d.unfairness_u_kl.estimate)


def test_parts_have_intervals_that_cover_the_estimate_with_noise():
    rng = np.random.default_rng(3)
    records = []
    for lang, h in [("en", 1.0), ("de", 2.0), ("sw", 3.0)]:
        for i in range(15):
            kl = float(rng.uniform(0.1, 0.6))
            ce = h + kl + float(rng.normal(0, 0.2))
            alpha = float(rng.uniform(0.4, 0.8))
            records += group([step(4, 2, alpha=alpha, ce=ce, kl=kl)], 1, language=lang)
            records[-1]["id"] = f"{lang}-{i}"
    d = compute_metrics(records, n_boot=300).disparity
    for p in (d.unfairness_u_entropy, d.unfairness_u_kl, d.unfairness_u_tv):
        assert p.status == "ok" and p.ci_low <= p.estimate <= p.ci_high and p.ci_low < p.ci_high


def test_a_drafter_with_zeros_in_q_is_floor_dominated():
    # An n-gram-like drafter: TV 0.5 per position and KL ~ 23 nats per unit TV
    # (each unit of p's mass where q = 0 is charged at the floor).
    floored = group([step(4, 1, alpha=0.5, ce=13.0, kl=0.5 * 23.0)], 12, language="sw")
    fitted = group([step(4, 2, alpha=0.5, ce=2.0, kl=1.0)], 12, language="en")
    result = compute_metrics(floored + fitted, n_boot=200)
    assert result.disparity.floor_dominated == ("sw/t",)
    assert any("floor-dominated" in n and "sw/t" in n for n in result.notes)
    assert np.isfinite(result.disparity.unfairness_u_tv.estimate)


def test_metrics_written_before_the_parts_still_read():
    result = compute_metrics(_decomposed_audit(), n_boot=200)
    data = result.to_dict()
    for scope in (data["disparity"], *data["disparity"]["by_task"]):
        for name in (
            "unfairness_u_entropy",
            "unfairness_u_kl",
            "unfairness_u_covariance",
            "unfairness_u_tv",
            "floor_dominated",
        ):
            del scope[name]
    old = MetricsResult.from_dict(data)
    assert old.disparity.unfairness_u == result.disparity.unfairness_u
    assert old.disparity.unfairness_u_kl.estimate is None
    assert old.disparity.floor_dominated == ()
