"""Interval modes, blocking rules and the four checks, on figures with known answers."""

import dataclasses

import pytest

from specaudit.gate import (
    CheckDefaults,
    Figure,
    Outcome,
    Status,
    evaluate,
    evaluate_checks,
    judge,
    parse_policy,
    resolve_policy,
)
from specaudit.metrics import compute_metrics
from specaudit.metrics.synthetic import GroupSpec, synthetic_records, true_figures
from tests.gate.builders import cest, contrast, est, group, result, two_language_result

P, F, U = Outcome.PASS, Outcome.FAIL, Outcome.INCONCLUSIVE

# (estimate, low, high) against ">= 0.8": wholly above, straddling with the
# estimate above, straddling with the estimate below, wholly below, the
# threshold as the lower bound, and no interval.
CASES = {
    "above": (0.95, 0.85, 1.05),
    "straddle_est_above": (0.85, 0.75, 0.95),
    "straddle_est_below": (0.78, 0.70, 0.86),
    "below": (0.62, 0.55, 0.70),
    "touching": (0.9, 0.8, 1.0),
    "no_interval": (0.9, None, None),
}
EXPECTED = {
    "point": {
        "above": P,
        "straddle_est_above": P,
        "straddle_est_below": F,
        "below": F,
        "touching": P,
        "no_interval": P,
    },
    "demonstrated": {
        "above": P,
        "straddle_est_above": U,
        "straddle_est_below": U,
        "below": F,
        "touching": P,
        "no_interval": U,
    },
    "unproven": {
        "above": P,
        "straddle_est_above": U,
        "straddle_est_below": U,
        "below": F,
        "touching": P,
        "no_interval": U,
    },
}


@pytest.mark.parametrize("mode", list(EXPECTED))
@pytest.mark.parametrize("case", list(CASES))
def test_judge_min_threshold(mode, case):
    e, lo, hi = CASES[case]
    assert judge(e, lo, hi, threshold=0.8, comparison=">=", mode=mode) is EXPECTED[mode][case]


@pytest.mark.parametrize("mode", list(EXPECTED))
@pytest.mark.parametrize("case", list(CASES))
def test_judge_max_threshold_is_the_mirror_image(mode, case):
    e, lo, hi = CASES[case]
    mirrored = (-e, None if hi is None else -hi, None if lo is None else -lo)
    got = judge(*mirrored, threshold=-0.8, comparison="<=", mode=mode)
    assert got is EXPECTED[mode][case]


def test_judge_rejects_bad_arguments():
    with pytest.raises(ValueError, match="mode='strict'"):
        judge(1.0, 0.9, 1.1, threshold=0.8, comparison=">=", mode="strict")
    with pytest.raises(ValueError, match="comparison='>'"):
        judge(1.0, 0.9, 1.1, threshold=0.8, comparison=">", mode="point")


def _row(figure_bounds, *, mode, severity="error", missing=None):
    e, lo, hi = figure_bounds
    figure = Figure("sw/translation", "speed-up ratio", e, lo, hi, 0.99, "simultaneous", missing)
    return evaluate(
        figure,
        check="parity",
        metric="min_speedup_ratio",
        threshold=0.8,
        comparison=">=",
        severity=severity,
        mode=mode,
    )


def test_a_straddle_blocks_in_unproven_but_not_in_demonstrated():
    unproven = _row(CASES["straddle_est_above"], mode="unproven")
    demonstrated = _row(CASES["straddle_est_above"], mode="demonstrated")
    assert unproven.status is demonstrated.status is Status.INCONCLUSIVE
    assert unproven.blocking and "straddles" in unproven.explanation
    assert not demonstrated.blocking and "does not block" in demonstrated.explanation


@pytest.mark.parametrize("mode", ["point", "demonstrated", "unproven"])
def test_insufficient_data_is_inconclusive_and_blocks_in_every_mode(mode):
    row = _row((0.5, None, None), mode=mode, missing="insufficient data: 3 prompts")
    assert row.outcome is Outcome.INCONCLUSIVE and row.status is Status.INCONCLUSIVE
    assert row.blocking
    assert row.explanation.startswith("insufficient data")


def test_warning_severity_never_blocks():
    failed = _row(CASES["below"], mode="unproven", severity="warning")
    assert failed.outcome is Outcome.FAIL and failed.status is Status.WARNING
    assert not failed.blocking
    unsure = _row(CASES["straddle_est_below"], mode="unproven", severity="warning")
    assert unsure.status is Status.INCONCLUSIVE and not unsure.blocking


def test_message_names_estimate_interval_and_threshold():
    row = _row(CASES["below"], mode="unproven")
    assert row.message.startswith("sw/translation: speed-up ratio = 0.62, ")
    assert "[0.55, 0.7] (99.0% simultaneous)" in row.message
    assert "threshold ≥ 0.8" in row.message


def _checks(text_checks, metrics, **defaults):
    policy = parse_policy({"defaults": defaults, "checks": text_checks})
    return evaluate_checks(resolve_policy(policy, metrics), metrics)


def test_contrast_checks_use_simultaneous_intervals_by_default():
    metrics = two_language_result(ratio=cest(0.85, 0.81, 0.9, sim=(0.78, 0.93), level=0.99))
    assert CheckDefaults().intervals == "simultaneous"
    (row,) = _checks([{"metric": "min_speedup_ratio"}], metrics)
    assert (row.ci_low, row.ci_high, row.level) == (0.78, 0.93, 0.99)
    assert row.status is Status.INCONCLUSIVE  # the simultaneous interval straddles 0.8
    (marginal,) = _checks([{"metric": "min_speedup_ratio", "intervals": "marginal"}], metrics)
    assert (marginal.ci_low, marginal.ci_high, marginal.level) == (0.81, 0.9, 0.95)
    assert marginal.status is Status.PASS


def test_holm_p_value_is_reported_beside_the_decision():
    metrics = two_language_result(ratio=cest(0.6, 0.55, 0.65, p_adjusted=0.004))
    (row,) = _checks([{"metric": "min_speedup_ratio"}], metrics)
    assert row.p_adjusted == 0.004 and "Holm-adjusted p = 0.004" in row.explanation


def test_acceptance_gap_flips_the_difference():
    metrics = two_language_result(
        ratio=cest(1.0, 0.9, 1.1), diff=cest(-0.2, -0.25, -0.15, sim=(-0.27, -0.13))
    )
    (row,) = _checks([{"metric": "max_acceptance_gap", "threshold": 0.1}], metrics)
    assert row.estimate == pytest.approx(0.2)
    assert (row.ci_low, row.ci_high) == pytest.approx((0.13, 0.27))
    assert row.comparison == "<=" and row.status is Status.FAIL
    assert "acceptance gap (en/translation minus group)" in row.quantity


def test_min_speedup_covers_every_group_including_the_reference():
    metrics = two_language_result(ratio=cest(0.8, 0.7, 0.9), sw_speedup=est(0.9, 0.8, 0.95))
    rows = _checks([{"metric": "min_speedup"}], metrics)
    assert [(r.subject, r.status) for r in rows] == [
        ("en/translation", Status.PASS),
        ("sw/translation", Status.FAIL),
    ]
    assert rows[0].interval_kind == "marginal" and rows[0].threshold == 1.0


def test_unfairness_across_all_groups_and_within_tasks():
    metrics = result(
        [
            group("en/story", speedup=est(2, 1.9, 2.1)),
            group("en/translation", speedup=est(2, 1, 3)),
        ],
        u=est(0.3, 0.2, 0.4),
        by_task={"story": est(0.01, 0.0, 0.02), "translation": est(0.5, 0.4, 0.6)},
    )
    (overall,) = _checks([{"metric": "max_unfairness_u", "threshold": 0.1}], metrics)
    assert overall.subject == "all groups" and overall.status is Status.FAIL
    rows = _checks(
        [{"metric": "max_unfairness_u", "threshold": 0.1, "tasks": ["story", "translation"]}],
        metrics,
    )
    assert [(r.subject, r.status) for r in rows] == [
        ("task story", Status.PASS),
        ("task translation", Status.FAIL),
    ]


def _with_parts(metrics, *, floored=(), **parts):
    return dataclasses.replace(
        metrics,
        disparity=dataclasses.replace(metrics.disparity, floor_dominated=floored, **parts),
    )


def test_u_on_kl_and_on_tv_are_gated_on_their_own_figures():
    base = result(
        [group("en/story", speedup=est(2, 1.9, 2.1)), group("sw/story", speedup=est(2, 1.9, 2.1))],
        u=est(0.3, 0.2, 0.4),
    )
    metrics = _with_parts(
        base, unfairness_u_kl=est(0.02, 0.01, 0.03), unfairness_u_tv=est(0.5, 0.4, 0.6)
    )
    rows = _checks(
        [
            {"metric": "max_unfairness_u", "threshold": 0.1},
            {"metric": "max_unfairness_u_kl", "threshold": 0.1},
            {"metric": "max_unfairness_u_tv", "threshold": 0.1},
        ],
        metrics,
    )
    assert [(r.check, r.status) for r in rows] == [
        ("max_unfairness_u", Status.FAIL),  # U is mostly the target's own entropy here
        ("max_unfairness_u_kl", Status.PASS),  # the drafter's part is small
        ("max_unfairness_u_tv", Status.FAIL),
    ]
    # Metrics written before the parts existed cannot decide, and say why.
    (old,) = _checks([{"metric": "max_unfairness_u_kl", "threshold": 0.1}], base)
    assert old.status is Status.INCONCLUSIVE and "recompute" in old.explanation


def test_floor_dominated_u_is_inconclusive_and_u_tv_decides():
    base = result(
        [group("en/story", speedup=est(2, 1.9, 2.1)), group("sw/story", speedup=est(2, 1.9, 2.1))],
        u=est(0.01, 0.005, 0.02),
    )
    metrics = _with_parts(
        base,
        floored=("sw/story",),
        unfairness_u_kl=est(0.01, 0.005, 0.02),
        unfairness_u_tv=est(0.002, 0.001, 0.003),
    )
    rows = _checks(
        [
            {"metric": "max_unfairness_u", "threshold": 0.1},
            {"metric": "max_unfairness_u_kl", "threshold": 0.1},
            {"metric": "max_unfairness_u_tv", "threshold": 0.1},
        ],
        metrics,
    )
    assert [r.status for r in rows] == [Status.INCONCLUSIVE, Status.INCONCLUSIVE, Status.PASS]
    assert "floor-dominated" in rows[0].explanation
    assert "max_unfairness_u_tv" in rows[0].explanation


def test_group_without_reference_is_inconclusive_not_skipped():
    metrics = result(
        [
            group("en/translation", speedup=est(2, 1.9, 2.1)),
            group("sw/translation", speedup=est(2, 1.9, 2.1)),
            group("sw/story", speedup=est(2, 1.9, 2.1)),
        ],
        [contrast("sw/translation", "en/translation", ratio=cest(1.0, 0.95, 1.05))],
    )
    rows = _checks([{"metric": "min_speedup_ratio"}], metrics)
    assert [r.subject for r in rows] == ["sw/translation", "sw/story"]
    assert rows[1].status is Status.INCONCLUSIVE and rows[1].blocking
    assert "no reference group for task 'story'" in rows[1].explanation


# Synthetic runs with a known truth -----------------------------------------

SPECS = [
    GroupSpec("en", alpha=0.8, n_prompts=30),
    GroupSpec("de", alpha=0.78, n_prompts=30),
    GroupSpec("sw", alpha=0.3, n_prompts=30),
]


@pytest.fixture(scope="module")
def synthetic():
    return compute_metrics(synthetic_records(SPECS, seed=1), n_boot=200, seed=0)


def _truth(language):
    spec = next(s for s in SPECS if s.language == language)
    return true_figures(spec)


def test_synthetic_truth_is_as_the_tests_assume():
    en, de, sw = (_truth(x) for x in ("en", "de", "sw"))
    assert de["speedup"] / en["speedup"] == pytest.approx(0.963, abs=0.001)  # fair
    assert sw["speedup"] / en["speedup"] == pytest.approx(0.438, abs=0.001)  # unfair
    assert sw["speedup"] == pytest.approx(0.953, abs=0.001)  # just below plain decoding


@pytest.mark.parametrize("mode", ["point", "demonstrated", "unproven"])
def test_synthetic_clear_cases_agree_in_every_mode(synthetic, mode):
    rows = _checks([{"metric": "min_speedup_ratio"}], synthetic, mode=mode)
    assert {r.subject: r.status for r in rows} == {
        "de/translation": Status.PASS,
        "sw/translation": Status.FAIL,
    }
    gap = _checks([{"metric": "max_acceptance_gap", "threshold": 0.15}], synthetic, mode=mode)
    assert {r.subject: r.status for r in gap} == {
        "de/translation": Status.PASS,
        "sw/translation": Status.FAIL,
    }


def test_synthetic_threshold_at_the_truth_straddles(synthetic):
    # tau at de's true ratio: its interval must straddle it, so only the
    # point mode commits to an answer.
    tau = round(_truth("de")["speedup"] / _truth("en")["speedup"], 3)
    checks = [{"metric": "min_speedup_ratio", "threshold": tau, "groups": ["de/translation"]}]
    (unproven,) = _checks(checks, synthetic, mode="unproven")
    (demonstrated,) = _checks(checks, synthetic, mode="demonstrated")
    (point,) = _checks(checks, synthetic, mode="point")
    assert unproven.ci_low < tau < unproven.ci_high
    assert unproven.status is Status.INCONCLUSIVE and unproven.blocking
    assert demonstrated.status is Status.INCONCLUSIVE and not demonstrated.blocking
    assert point.outcome in (Outcome.PASS, Outcome.FAIL)


def test_synthetic_slight_slowdown_is_not_demonstrated(synthetic):
    # sw is truly 0.95x plain decoding; 30 prompts cannot show it.
    checks = [{"metric": "min_speedup", "groups": ["sw/translation"]}]
    (point,) = _checks(checks, synthetic, mode="point")
    (demonstrated,) = _checks(checks, synthetic, mode="demonstrated")
    assert point.status is Status.FAIL
    assert demonstrated.ci_low < 1.0 < demonstrated.ci_high
    assert demonstrated.status is Status.INCONCLUSIVE and not demonstrated.blocking


@pytest.mark.parametrize("mode", ["point", "demonstrated", "unproven"])
def test_underpowered_run_is_inconclusive(mode):
    small = [GroupSpec(s.language, alpha=s.alpha, n_prompts=3) for s in SPECS]
    metrics = compute_metrics(synthetic_records(small, seed=2), n_boot=100)
    rows = _checks([{"metric": "min_speedup_ratio"}, {"metric": "min_speedup"}], metrics, mode=mode)
    assert rows and all(r.status is Status.INCONCLUSIVE and r.blocking for r in rows)


def test_reference_groups_are_left_out_even_without_contrasts():
    metrics = result(
        [group("en/translation", speedup=est(2, 1.9, 2.1)), group("sw/story", speedup=est(2))]
    )
    rows = _checks([{"metric": "min_speedup_ratio"}], metrics)
    assert [r.subject for r in rows] == ["sw/story"]
    assert "no reference group for task 'story'" in rows[0].explanation
