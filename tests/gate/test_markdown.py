"""Markdown summary: words and symbols, failing groups first, GITHUB_STEP_SUMMARY append."""

from specaudit.gate import (
    Status,
    append_step_summary,
    evaluate_gate,
    markdown_summary,
    parse_policy,
    run_gate,
)
from tests.gate.builders import cest, contrast, est, group, result, write_policy, write_run

POLICY = {
    "checks": [
        {"name": "parity", "metric": "min_speedup_ratio"},
        {"name": "no_slowdown", "metric": "min_speedup", "severity": "warning"},
    ]
}


def _metrics():
    return result(
        [
            group("en/story", speedup=est(2.0, 1.9, 2.1)),
            group("sw/story", speedup=est(0.9, 0.8, 0.95)),
            group("yo/story", speedup=est(1.6, 1.4, 1.8)),
        ],
        [
            contrast("sw/story", "en/story", ratio=cest(0.45, 0.4, 0.5)),
            contrast("yo/story", "en/story", ratio=cest(0.8, 0.75, 0.86)),
        ],
    )


def test_table_has_words_and_symbols_and_fails_first():
    gate = evaluate_gate(parse_policy(POLICY), _metrics(), run_dir="runs/x")
    text = markdown_summary(gate)
    assert text.startswith("## specaudit release gate: ❌ fail (failed, exit 1)")
    for label in ("✅ pass", "❌ fail", "⚠️ warning", "❔ inconclusive"):
        assert f"| {label} |" in text
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| Status | Blocks | Check | Group |")
    assert table[1].startswith("| ❌ fail | yes | parity | `sw/story` |")
    assert "Failing groups: `sw/story`" in text
    assert "**1 fail · 1 inconclusive · 1 warning · 2 pass**" in text


def test_pipes_in_cells_are_escaped():
    gate = evaluate_gate(
        parse_policy({"checks": [{"name": "a|b", "metric": "min_speedup"}]}), _metrics()
    )
    assert "| a\\|b |" in markdown_summary(gate)


def test_verdict_with_warnings_only():
    policy = parse_policy({"checks": [{"metric": "min_speedup", "severity": "warning"}]})
    gate = evaluate_gate(policy, _metrics())
    assert gate.verdict is Status.PASS
    assert "✅ pass (passed with warnings, exit 0)" in markdown_summary(gate)


def test_step_summary_is_appended_when_set(tmp_path, monkeypatch):
    step = tmp_path / "step_summary.md"
    step.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    run_dir = write_run(tmp_path, _metrics())
    policy = write_policy(tmp_path, "checks:\n  - metric: min_speedup_ratio\n")
    first = run_gate(run_dir, policy)
    run_gate(run_dir, policy)
    text = step.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n")
    assert text.count("## specaudit release gate: ❌ fail") == 2
    assert str(step) in first.written


def test_no_step_summary_without_the_variable(tmp_path):
    gate = evaluate_gate(parse_policy(POLICY), _metrics())
    assert append_step_summary(gate, env={}) is None
    assert append_step_summary(gate, env={"GITHUB_STEP_SUMMARY": ""}) is None
