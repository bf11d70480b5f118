"""Regression checks against a previous release's run (--baseline)."""

import math

import pytest
from scipy.stats import norm
from typer.testing import CliRunner

from specaudit.cli import app
from specaudit.errors import UserInputError
from specaudit.gate import (
    Status,
    baseline_rows,
    check_same_groups,
    evaluate_gate,
    parse_policy,
    resolve_baseline,
    speedup_change,
)
from specaudit.metrics.result import Estimate
from tests.gate.builders import est, group, result, write_policy, write_run

runner = CliRunner()


def _run(speedups, n=30):
    return result([group(key, speedup=value, n=n) for key, value in speedups.items()])


BEFORE = _run(
    {
        "en/story": est(2.0, 1.9, 2.1),
        "de/story": est(2.0, 1.9, 2.1),
        "sw/story": est(2.0, 1.9, 2.1),
    }
)
# en unchanged, de down 30% (clearly), sw down 10% with a wide interval.
AFTER = _run(
    {
        "en/story": est(2.0, 1.9, 2.1),
        "de/story": est(1.4, 1.33, 1.47),
        "sw/story": est(1.8, 1.3, 2.4),
    }
)


def _rows(policy=None, before=BEFORE, after=AFTER):
    spec = resolve_baseline(parse_policy(policy or {"checks": [{"metric": "min_speedup"}]}))
    return {r.subject: r for r in baseline_rows(after, before, spec)}


def test_speedup_change_matches_the_log_scale_formula():
    now, before = Estimate(1.5, 1.2, 1.8, "ok"), Estimate(2.0, 1.8, 2.4, "ok")
    ratio, low, high = speedup_change(
        now, before, current_level=0.95, baseline_level=0.95, level=0.95
    )
    z = norm.ppf(0.975)
    se_low_now, se_high_now = math.log(1.5 / 1.2) / z, math.log(1.8 / 1.5) / z
    se_low_before, se_high_before = math.log(2.0 / 1.8) / z, math.log(2.4 / 2.0) / z
    assert ratio == pytest.approx(0.75)
    assert low == pytest.approx(0.75 * math.exp(-z * math.hypot(se_low_now, se_high_before)))
    assert high == pytest.approx(0.75 * math.exp(z * math.hypot(se_high_now, se_low_before)))
    assert (
        speedup_change(
            now,
            Estimate(2.0, None, None, "insufficient data"),
            current_level=0.95,
            baseline_level=0.95,
            level=0.95,
        )
        is None
    )


def test_known_regressions_fail_pass_and_straddle():
    rows = _rows()
    assert rows["en/story"].status is Status.PASS
    assert rows["en/story"].estimate == pytest.approx(1.0)
    assert rows["de/story"].status is Status.FAIL
    assert rows["de/story"].estimate == pytest.approx(0.7)
    assert rows["de/story"].threshold == pytest.approx(0.9)  # default max drop 10%
    assert "1.4x vs 2x" in rows["de/story"].quantity
    assert rows["sw/story"].status is Status.INCONCLUSIVE and rows["sw/story"].blocking


def test_simultaneous_is_the_default_and_wider_than_marginal():
    simultaneous = _rows()["de/story"]
    marginal = _rows(
        {"checks": [{"metric": "min_speedup"}], "baseline": {"intervals": "marginal"}}
    )["de/story"]
    assert simultaneous.interval_kind == "simultaneous"
    assert simultaneous.level == pytest.approx(1 - 0.05 / 3)
    assert marginal.level == pytest.approx(0.95)
    assert simultaneous.ci_low < marginal.ci_low < marginal.ci_high < simultaneous.ci_high


def test_policy_settings_apply():
    rows = _rows(
        {
            "checks": [{"metric": "min_speedup"}],
            "baseline": {"max_speedup_drop": 0.4, "mode": "point", "severity": "warning"},
        }
    )
    assert rows["de/story"].status is Status.PASS  # 30% drop allowed
    assert rows["sw/story"].status is Status.PASS  # point mode: 10% < 40%
    assert rows["de/story"].check == "baseline_speedup_drop"


def test_insufficient_data_is_inconclusive():
    small = _run({"en/story": est(2.0), "de/story": est(2.0, 1.9, 2.1), "sw/story": est(2.0)})
    rows = _rows(after=small)
    assert rows["en/story"].status is Status.INCONCLUSIVE
    assert "insufficient data" in rows["en/story"].explanation


def test_refuses_runs_with_other_groups():
    other = _run({"en/story": est(2.0, 1.9, 2.1), "yo/story": est(2.0, 1.9, 2.1)})
    with pytest.raises(UserInputError) as info:
        check_same_groups(AFTER, other, baseline_dir="runs/v1")
    assert str(info.value) == (
        "baseline runs/v1 has other groups than this run (only in this run: de/story, "
        "sw/story; only in the baseline: yo/story); compare runs of the same languages and tasks"
    )


def test_baseline_rows_come_after_policy_rows():
    gate = evaluate_gate(
        parse_policy({"checks": [{"metric": "min_speedup"}]}), AFTER, baseline=BEFORE
    )
    assert [r.check for r in gate.rows] == ["min_speedup"] * 3 + ["baseline_speedup_drop"] * 3
    assert gate.exit_code == 1


def test_cli_baseline(tmp_path, monkeypatch):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    policy = write_policy(tmp_path, "checks:\n  - metric: min_speedup\n")
    now, before = write_run(tmp_path, AFTER, "now"), write_run(tmp_path, BEFORE, "before")
    failed = runner.invoke(
        app, ["gate", str(now), "--policy", str(policy), "--baseline", str(before)]
    )
    assert failed.exit_code == 1, failed.output
    assert "baseline_speedup_drop  de/story" in failed.stdout
    same = runner.invoke(
        app, ["gate", str(before), "--policy", str(policy), "--baseline", str(before)]
    )
    assert same.exit_code == 0, same.output
    other = write_run(tmp_path, _run({"en/story": est(2.0, 1.9, 2.1)}), "other")
    refused = runner.invoke(
        app, ["gate", str(now), "--policy", str(policy), "--baseline", str(other)]
    )
    assert refused.exit_code == 2
    assert refused.stderr.startswith(f"error: baseline {other} has other groups than this run")
    missing = runner.invoke(
        app, ["gate", str(now), "--policy", str(policy), "--baseline", str(tmp_path / "nope")]
    )
    assert missing.exit_code == 2 and "baseline run directory" in missing.stderr


def test_unused_baseline_section_is_noted():
    policy = parse_policy({"checks": [{"metric": "min_speedup"}], "baseline": {}})
    gate = evaluate_gate(policy, AFTER)
    assert any("baseline section was not used" in n for n in gate.notes)
