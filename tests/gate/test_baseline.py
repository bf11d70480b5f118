"""Regression checks against a previous release's run (--baseline).

The runs are synthetic audits (records and metrics) over the same prompt ids:
de's drafter got slower by a factor that drops its speed-up by about 30%,
sw's by about 10%, en's not at all.
"""

import pytest
from typer.testing import CliRunner

from specaudit.cli import app
from specaudit.errors import UserInputError
from specaudit.gate import Status, baseline_rows, evaluate_gate, parse_policy, resolve_baseline
from specaudit.metrics import MetricsResult
from specaudit.metrics.compare import run_prompts
from specaudit.metrics.synthetic import GroupSpec
from tests.gate.builders import write_policy
from tests.reports.builders import make_run

runner = CliRunner()
LANGUAGES = ("en", "de", "sw")
#: Drafter forward seconds after the change: a verify step (4 drafts + 0.022 s)
#: costs 1/0.7 (de) and 1/0.9 (sw) times what it did at 0.002 s.
SLOWER = {"en": 0.002, "de": 0.00525, "sw": 0.00283}


def _specs(draft_s=None, n=80, languages=LANGUAGES):
    draft_s = draft_s or {}
    return [
        GroupSpec(lang, "story", alpha=0.8, n_prompts=n, draft_forward_s=draft_s.get(lang, 0.002))
        for lang in languages
    ]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("baseline")
    return {
        "before": make_run(root / "before", _specs(), seed=0),
        "after": make_run(root / "after", _specs(SLOWER), seed=1),
        "small": make_run(root / "small", _specs(n=5), seed=2),
        "other": make_run(root / "other", _specs(languages=("en", "yo")), seed=3),
    }


def _load(run_dir):
    metrics = MetricsResult.read(run_dir)
    return metrics, run_prompts(run_dir, gamma=metrics.settings.gamma)


def _rows(runs, policy=None, after="after", before="before"):
    spec = resolve_baseline(parse_policy(policy or {"checks": [{"metric": "min_speedup"}]}))
    (now, now_prompts), (then, then_prompts) = _load(runs[after]), _load(runs[before])
    rows = baseline_rows(now, then, spec, (now_prompts, then_prompts))
    return {r.subject: r for r in rows}


def test_known_regressions_fail_pass_and_straddle(runs):
    rows = _rows(runs)
    assert rows["en/story"].status is Status.PASS
    assert rows["en/story"].ci_low > 0.9
    assert rows["de/story"].status is Status.FAIL
    assert rows["de/story"].ci_high < 0.9
    assert rows["de/story"].estimate == pytest.approx(0.7, abs=0.05)
    assert rows["de/story"].threshold == pytest.approx(0.9)  # default max drop 10%
    assert "x vs " in rows["de/story"].quantity
    assert rows["sw/story"].ci_low < 0.9 < rows["sw/story"].ci_high
    assert rows["sw/story"].status is Status.INCONCLUSIVE and rows["sw/story"].blocking


def test_the_ratio_is_the_ratio_of_group_speedups_on_shared_prompts(runs):
    (now, _), (then, _) = _load(runs["after"]), _load(runs["before"])
    rows = _rows(runs)
    for key, row in rows.items():
        expected = now.group(key).speedup.estimate / then.group(key).speedup.estimate
        assert row.estimate == pytest.approx(expected, rel=1e-9)


def test_simultaneous_is_the_default_and_wider_than_marginal(runs):
    simultaneous = _rows(runs)["de/story"]
    marginal = _rows(
        runs, {"checks": [{"metric": "min_speedup"}], "baseline": {"intervals": "marginal"}}
    )["de/story"]
    assert simultaneous.interval_kind == "simultaneous"
    assert simultaneous.level == pytest.approx(1 - 0.05 / 3)
    assert marginal.level == pytest.approx(0.95)
    assert simultaneous.ci_low < marginal.ci_low < marginal.ci_high < simultaneous.ci_high


def test_policy_settings_apply(runs):
    rows = _rows(
        runs,
        {
            "checks": [{"metric": "min_speedup"}],
            "baseline": {"max_speedup_drop": 0.4, "mode": "point", "severity": "warning"},
        },
    )
    assert rows["de/story"].status is Status.PASS  # 30% drop allowed
    assert rows["sw/story"].status is Status.PASS  # point mode: 10% < 40%
    assert rows["de/story"].check == "baseline_speedup_drop"


def test_a_timing_tolerance_widens_the_ratio(runs):
    bare = _rows(runs)
    # de's ratio is about 0.7 against a bar of 0.9: a 3% tolerance cannot save it.
    assert bare["de/story"].ci_high * 1.03 < 0.9
    tolerant = _rows(runs, {**_MIN_SPEEDUP, "defaults": {"timing_tolerance": 0.03}})
    assert tolerant["de/story"].status is Status.FAIL
    assert "±3% timing tolerance" in tolerant["de/story"].message
    # A shift of 40% leaves no regression demonstrable, and no pass either.
    wide = _rows(runs, {**_MIN_SPEEDUP, "baseline": {"timing_tolerance": 0.4}})
    assert {row.status for row in wide.values()} == {Status.INCONCLUSIVE}
    assert all(row.tolerance == 0.4 for row in wide.values())
    assert (wide["de/story"].ci_low, wide["de/story"].ci_high) == (
        bare["de/story"].ci_low,
        bare["de/story"].ci_high,
    )


_MIN_SPEEDUP = {"checks": [{"metric": "min_speedup"}]}


def test_insufficient_data_is_inconclusive(runs):
    rows = _rows(runs, after="small")
    assert rows["en/story"].status is Status.INCONCLUSIVE
    assert "insufficient data" in rows["en/story"].explanation


def test_refuses_runs_with_other_groups(runs):
    with pytest.raises(UserInputError) as info:
        _rows(runs, after="other")
    assert str(info.value) == (
        "cannot compare this run with the baseline: their groups differ (only in this run: "
        "yo/story; only in the baseline: de/story, sw/story); compare runs over the same "
        "languages and tasks"
    )


def test_baseline_rows_come_after_policy_rows(runs):
    (now, now_prompts), (then, then_prompts) = _load(runs["after"]), _load(runs["before"])
    policy = parse_policy({"checks": [{"metric": "min_speedup"}]})
    gate = evaluate_gate(policy, now, baseline=then, prompts=(now_prompts, then_prompts))
    assert [r.check for r in gate.rows] == ["min_speedup"] * 3 + ["baseline_speedup_drop"] * 3
    assert gate.exit_code == 1
    with pytest.raises(UserInputError, match="resamples prompts"):
        evaluate_gate(policy, now, baseline=then)


def test_cli_baseline(tmp_path, monkeypatch, runs):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    policy = write_policy(tmp_path, "checks:\n  - metric: min_speedup\n")
    now, before, other = runs["after"], runs["before"], runs["other"]
    failed = runner.invoke(
        app, ["gate", str(now), "--policy", str(policy), "--baseline", str(before)]
    )
    assert failed.exit_code == 1, failed.output
    assert "baseline_speedup_drop  de/story" in failed.stdout
    same = runner.invoke(
        app, ["gate", str(before), "--policy", str(policy), "--baseline", str(before)]
    )
    assert same.exit_code == 0, same.output
    refused = runner.invoke(
        app, ["gate", str(now), "--policy", str(policy), "--baseline", str(other)]
    )
    assert refused.exit_code == 2
    assert refused.stderr.startswith(f"error: cannot compare {now} with baseline {other}")
    missing = runner.invoke(
        app, ["gate", str(now), "--policy", str(policy), "--baseline", str(tmp_path / "nope")]
    )
    assert missing.exit_code == 2 and "baseline run directory" in missing.stderr


def test_unused_baseline_section_is_noted(runs):
    policy = parse_policy({"checks": [{"metric": "min_speedup"}], "baseline": {}})
    gate = evaluate_gate(policy, _load(runs["after"])[0])
    assert any("baseline section was not used" in n for n in gate.notes)
