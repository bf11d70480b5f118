"""timing_tolerance: speed-up intervals widened by the machine's run-to-run shift.

The figures are the ones that motivated it: ko/story's ``no_slowdown`` row on
the default audit, whose interval's upper end lay at 0.992-1.022 over runs of
the same audit, so that it failed in some runs and was inconclusive in others.
"""

import pytest

from specaudit.errors import UserInputError
from specaudit.gate import (
    Outcome,
    Status,
    evaluate_checks,
    example_policy_path,
    judge,
    load_policy,
    parse_policy,
    resolve_baseline,
    resolve_policy,
)
from tests.gate.builders import cest, est, group, result, two_language_result

P, F, U = Outcome.PASS, Outcome.FAIL, Outcome.INCONCLUSIVE


def _judge(low, high, tolerance, mode="demonstrated"):
    estimate = (low * high) ** 0.5
    return judge(
        estimate, low, high, threshold=1.0, comparison=">=", mode=mode, tolerance=tolerance
    )


@pytest.mark.parametrize(
    ("low", "high", "bare", "tolerant"),
    [
        (0.86, 0.992, F, U),  # ko/story beside the neighbour: a 0.8% slowdown
        (0.86, 0.96, F, F),  # 4% below the bar at most: more than the shift
        (0.92, 1.022, U, U),  # ko/story quietly
        (1.01, 1.10, P, U),  # 1% above at least: within the shift
        (1.04, 1.20, P, P),  # 4% above at least
    ],
)
def test_a_tolerance_decides_only_beyond_the_shift(low, high, bare, tolerant):
    assert _judge(low, high, 0.0) is bare
    assert _judge(low, high, 0.03) is tolerant


def test_the_widening_is_on_the_ratio_scale():
    # Fail iff high * 1.03 < 1; pass iff low / 1.03 >= 1: the edges are 1/1.03 and 1.03.
    edge = 1.0 / 1.03
    assert _judge(0.8, edge * (1 - 1e-9), 0.03) is F
    assert _judge(0.8, edge * (1 + 1e-9), 0.03) is U
    assert _judge(1.03 * (1 + 1e-9), 1.2, 0.03) is P
    assert _judge(1.03 * (1 - 1e-9), 1.2, 0.03) is U


def test_mode_point_ignores_the_tolerance():
    assert _judge(0.9, 0.999, 0.2, mode="point") is F


def test_judge_rejects_a_negative_tolerance_and_a_non_positive_interval():
    with pytest.raises(ValueError, match=r"tolerance=-0\.01"):
        _judge(0.9, 1.1, -0.01)
    with pytest.raises(ValueError, match="positive interval"):
        judge(0.1, -0.2, 0.3, threshold=0.0, comparison=">=", mode="unproven", tolerance=0.03)


def _metrics(sw_speedup):
    return two_language_result(ratio=cest(0.9, 0.85, 0.95), sw_speedup=sw_speedup)


def test_defaults_reach_speedup_checks_only_and_a_check_may_override():
    policy = parse_policy(
        {
            "defaults": {"timing_tolerance": 0.03},
            "checks": [
                {"metric": "min_speedup_ratio"},
                {"metric": "min_speedup"},
                {"name": "strict", "metric": "min_speedup", "timing_tolerance": 0.0},
                {"metric": "min_speedup_modelled", "timing_tolerance": 0.05},
                {"metric": "max_acceptance_gap", "threshold": 0.1},
                {"metric": "max_unfairness_u", "threshold": 0.25},
            ],
        }
    )
    checks = resolve_policy(policy, _metrics(est(1.6, 1.5, 1.7)))
    assert [c.timing_tolerance for c in checks] == [0.03, 0.03, 0.0, 0.05, 0.0, 0.0]
    assert resolve_baseline(policy).timing_tolerance == 0.03
    spec = {"timing_tolerance": 0.1}
    assert resolve_baseline(parse_policy({**_ONE, "baseline": spec})).timing_tolerance == 0.1


_ONE = {"checks": [{"metric": "min_speedup"}]}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"checks": [{"metric": "max_unfairness_u", "threshold": 1, "timing_tolerance": 0.03}]},
            "check 1 (max_unfairness_u): timing_tolerance applies to speed-up checks "
            "(min_speedup_ratio, min_speedup, min_speedup_modelled); max_unfairness_u is not "
            "a speed-up: remove it",
        ),
        ({**_ONE, "defaults": {"timing_tolerance": -0.01}}, "defaults: timing_tolerance:"),
        ({"checks": [{"metric": "min_speedup", "timing_tolerance": 0.5}]}, "less than 0.5"),
        (
            {"checks": [{"metric": "min_speedup", "mode": "point", "timing_tolerance": 0.03}]},
            "mode point judges the estimate alone",
        ),
        (
            {**_ONE, "defaults": {"mode": "point", "timing_tolerance": 0.03}},
            "defaults: mode point judges the estimate alone",
        ),
    ],
)
def test_a_misplaced_tolerance_gives_one_line(data, expected):
    with pytest.raises(UserInputError) as info:
        parse_policy(data, source="gate.yaml")
    assert "\n" not in str(info.value)
    assert expected in str(info.value)


def test_rows_say_what_the_tolerance_did():
    metrics = result(
        [
            group("en/translation", speedup=est(2.0, 1.9, 2.1)),
            group("ko/story", speedup=est(0.926, 0.86, 0.992)),
        ]
    )
    checks = [{"metric": "min_speedup", "mode": "demonstrated"}]
    policy = parse_policy({"defaults": {"timing_tolerance": 0.03}, "checks": checks})
    rows = {r.subject: r for r in evaluate_checks(resolve_policy(policy, metrics), metrics)}
    ko = rows["ko/story"]
    assert ko.status is Status.INCONCLUSIVE and not ko.blocking and ko.tolerance == 0.03
    assert (ko.ci_low, ko.ci_high) == (0.86, 0.992)  # the interval as measured
    assert "[0.86, 0.992] (95.0% marginal, ±3% timing tolerance)" in ko.message
    assert ko.explanation.startswith(
        "the whole interval is below the threshold, but within the 3% timing tolerance of it"
    )
    assert "widened by the 3% timing tolerance, is on the passing side" in (
        rows["en/translation"].explanation
    )
    wide = result([group("xx/story", speedup=est(0.95, 0.80, 1.10))])
    (row,) = evaluate_checks(resolve_policy(policy, wide), wide)
    assert row.explanation.startswith("the interval straddles the threshold: cannot tell")
    near = result([group("xx/story", speedup=est(1.05, 1.01, 1.10))])
    (row,) = evaluate_checks(resolve_policy(policy, near), near)
    assert row.explanation.startswith(
        "the whole interval is on the passing side, but within the 3% timing tolerance"
    )
    bare = parse_policy({"checks": checks})
    (_, ko_bare) = evaluate_checks(resolve_policy(bare, metrics), metrics)
    assert ko_bare.status is Status.FAIL and ko_bare.tolerance == 0.0
    assert "timing tolerance" not in ko_bare.message


def test_the_example_policy_allows_five_percent_on_speedups():
    policy = load_policy(example_policy_path())
    checks = resolve_policy(policy, _metrics(est(1.6, 1.5, 1.7)))
    tolerances = {c.metric: c.timing_tolerance for c in checks}
    assert tolerances["min_speedup"] == tolerances["min_speedup_ratio"] == 0.05
    assert tolerances["min_speedup_modelled"] == 0.05
    assert tolerances["max_acceptance_gap"] == tolerances["max_unfairness_u"] == 0.0
