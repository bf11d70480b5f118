import math

import numpy as np
import pandas as pd
import pytest

from specaudit.errors import UserInputError
from specaudit.reports import compare_runs, load_run, render_comparison
from tests.reports.builders import SCRIPT, default_specs, make_run
from tests.reports.conftest import SMALL
from tests.reports.htmlcheck import Page

SECTIONS = ["verdict", "groups", "plots", "disparity", "examples", "method"]


@pytest.fixture(scope="module")
def comparison(after_run, before_run):
    return compare_runs(load_run(after_run), load_run(before_run))


def test_comparison_report_parses_with_every_section_and_plot(comparison_report):
    text = comparison_report.read_text(encoding="utf-8")
    page = Page(text)
    assert page.errors == []
    assert page.sections == SECTIONS
    assert list(page.plots) == ["dumbbell-speedup", "dumbbell-acceptance_rate", "change"]
    assert all(n == 1 for n in page.plots.values())
    assert page.scripts == 1 and SCRIPT not in text
    for phrase in ("Unfairness U", "Mean speed-up", "Cost to best-served groups", "★ reference"):
        assert phrase in page.text
    # Links reach both runs' data files from wherever the report was written.
    links = [u for u in page.urls if u.endswith((".json", ".csv"))]
    assert len(links) == 6
    assert all((comparison_report.parent / u).resolve().is_file() for u in links)


def test_groups_are_paired_on_shared_prompts(comparison, after_run, before_run):
    assert {g.pairing for g in comparison.groups} == {"paired"}
    assert all(g.n_shared == SMALL["n_prompts"] for g in comparison.groups)
    # The point estimate is the ratio of the two runs' group speed-ups on the shared prompts.
    a, b = pd.read_csv(after_run / "prompts.csv"), pd.read_csv(before_run / "prompts.csv")
    for g in comparison.groups:
        ga, gb = a[a["group"] == g.group], b[b["group"] == g.group]
        expected = (ga.baseline_time_s.sum() / ga.spec_time_s.sum()) / (
            gb.baseline_time_s.sum() / gb.spec_time_s.sum()
        )
        assert math.isclose(g.speedup_ratio.estimate, expected, rel_tol=1e-9)
        r = g.speedup_ratio
        assert r.ci_low <= r.estimate <= r.ci_high
        assert 0.0 <= r.p_value <= r.p_adjusted <= 1.0


def test_the_improved_languages_improve_and_the_reference_does_not(comparison):
    by_group = {g.group: g for g in comparison.groups}
    sw = by_group["sw/translation"].acceptance_diff
    assert sw.estimate > 0 and sw.ci_low > 0  # acceptance raised by the shift
    # The fixture improves Swahili: its speed-up ratio (after / before) and its
    # whole interval lie above 1, in both tasks.
    for task in ("translation", "story"):
        ratio = by_group[f"sw/{task}"].speedup_ratio
        assert ratio.estimate > 1.0 and ratio.ci_low > 1.0, (task, ratio)
    en = by_group["en/translation"]
    assert en.acceptance_diff.ci_low <= 0.0 <= en.acceptance_diff.ci_high
    # The shift raises sw's acceptance, so its speed-up must rise, demonstrably.
    sw_speedup = by_group["sw/translation"].speedup_ratio
    assert sw_speedup.estimate > 1.0 and sw_speedup.ci_low > 1.0
    assert en.speedup_ratio.ci_low <= 1.0 <= en.speedup_ratio.ci_high
    u_after = comparison.after.result.disparity.unfairness_u.estimate
    u_before = comparison.before.result.disparity.unfairness_u.estimate
    assert comparison.u_change == pytest.approx(u_after / u_before - 1.0)
    assert comparison.mean_speedup.ratio.estimate > 1.0
    assert comparison.best_served.groups  # top quarter by speed-up before


def test_a_run_compared_with_itself_shows_no_change(before_run):
    run = load_run(before_run)
    c = compare_runs(run, run)
    for g in c.groups:
        assert g.speedup_ratio.estimate == pytest.approx(1.0)
        assert g.speedup_ratio.ci_low == pytest.approx(1.0)
        assert g.acceptance_diff.estimate == pytest.approx(0.0)
    assert c.mean_speedup.ratio.estimate == pytest.approx(1.0)
    assert c.u_change == pytest.approx(0.0)


def test_mismatched_groups_are_refused_naming_them(tmp_path, before_run):
    specs = default_specs(SMALL["n_prompts"], languages=("en", "ar", "hi"))
    other = make_run(tmp_path / "other", specs, seed=3)
    with pytest.raises(UserInputError) as err:
        render_comparison(other, before_run, out=tmp_path / "x.html")
    message = str(err.value)
    assert "hi/translation" in message and "sw/translation" in message
    assert "groups differ" in message and "\n" not in message
    assert not (tmp_path / "x.html").exists()


def test_runs_without_shared_prompt_ids_fall_back_to_independent_resampling(tmp_path, before_run):
    run = make_run(
        tmp_path / "renamed",
        default_specs(SMALL["n_prompts"], languages=SMALL["languages"]),
        seed=4,
    )
    for name in ("records.jsonl", "prompts.csv"):
        path = run / name
        path.write_text(path.read_text(encoding="utf-8").replace("-00", "-x00"), encoding="utf-8")
    c = compare_runs(load_run(run), load_run(before_run))
    assert {g.pairing for g in c.groups} == {"independent"}
    assert all(g.n_shared == 0 for g in c.groups)
    assert all(np.isfinite(g.speedup_ratio.ci_low) for g in c.groups)
    assert any("independent resampling" in n for n in c.notes)
    page = Page(render_comparison(run, before_run).read_text(encoding="utf-8"))
    assert page.errors == [] and "independent" in page.text


def test_report_and_gate_agree_on_the_same_two_runs(comparison, after_run, before_run, tmp_path):
    """The gate's check against a previous release sees the report's own intervals."""
    from specaudit.gate import Status, run_gate

    policy = tmp_path / "gate.yaml"
    policy.write_text(
        "checks:\n  - metric: min_speedup\n    threshold: 0.5\n"
        "baseline:\n  intervals: marginal\n  max_speedup_drop: 0.001\n",
        encoding="utf-8",
    )
    gate = run_gate(after_run, policy, baseline=before_run)
    rows = {r.subject: r for r in gate.rows if r.check == "baseline_speedup_drop"}
    assert set(rows) == {g.group for g in comparison.groups}
    for g in comparison.groups:
        row, change = rows[g.group], g.speedup_ratio
        assert (row.estimate, row.ci_low, row.ci_high) == (
            change.estimate,
            change.ci_low,
            change.ci_high,
        )
        assert row.level == comparison.confidence_level
        # A 0.1% drop allowed: the gate passes a group exactly when the report
        # shows its speed-up ratio demonstrably at or above 0.999, fails it below.
        if change.ci_low >= 0.999:
            assert row.status is Status.PASS
        elif change.ci_high < 0.999:
            assert row.status is Status.FAIL
        else:
            assert row.status is Status.INCONCLUSIVE
    assert rows["sw/translation"].status is Status.PASS
