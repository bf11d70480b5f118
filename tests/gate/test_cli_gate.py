"""`specaudit gate`: every exit code, through typer's CliRunner."""

import pytest
from typer.testing import CliRunner

from specaudit.cli import app
from specaudit.gate import run_gate
from tests.gate.builders import cest, est, two_language_result, write_policy, write_run

runner = CliRunner()

PARITY = "checks:\n  - metric: min_speedup_ratio\n    threshold: 0.8\n"


@pytest.fixture(autouse=True)
def _no_github(monkeypatch):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


def _run_dir(tmp_path, ratio, **kwargs):
    return write_run(tmp_path, two_language_result(ratio=ratio, **kwargs))


def _gate(*args):
    return runner.invoke(app, ["gate", *map(str, args)])


def test_exit_0_when_every_check_passes(tmp_path):
    run_dir = _run_dir(tmp_path, cest(0.95, 0.9, 1.0))
    junit, summary = tmp_path / "out" / "gate.xml", tmp_path / "out" / "gate.md"
    result = _gate(
        run_dir, "--policy", write_policy(tmp_path, PARITY), "--junit", junit, "--summary", summary
    )
    assert result.exit_code == 0, result.output
    assert "gate: ✅ pass (exit 0): 1 pass" in result.stdout
    assert junit.is_file() and summary.is_file()
    assert f"gate reports: {junit}, {summary}" in result.stdout


def test_exit_0_with_warnings(tmp_path):
    run_dir = _run_dir(tmp_path, cest(0.5, 0.4, 0.6))
    policy = write_policy(tmp_path, PARITY + "    severity: warning\n")
    result = _gate(run_dir, "--policy", policy)
    assert result.exit_code == 0, result.output
    assert "⚠️ warning (not blocking)" in result.stdout and "1 warning" in result.stdout


def test_exit_1_names_the_failing_group_everywhere(tmp_path):
    run_dir = _run_dir(tmp_path, cest(0.6, 0.55, 0.65))
    junit, summary = tmp_path / "gate.xml", tmp_path / "gate.md"
    result = _gate(
        run_dir, "--policy", write_policy(tmp_path, PARITY), "--junit", junit, "--summary", summary
    )
    assert result.exit_code == 1, result.output
    assert "❌ fail  min_speedup_ratio  sw/translation: speed-up ratio" in result.stdout
    assert 'name="sw/translation"' in junit.read_text() and "<failure" in junit.read_text()
    assert "Failing groups: `sw/translation`" in summary.read_text()


@pytest.mark.parametrize(("flag", "code"), [(None, 4), ("block", 4), ("fail", 1), ("pass", 0)])
def test_exit_4_when_only_inconclusive_checks_block(tmp_path, flag, code):
    run_dir = _run_dir(tmp_path, cest(0.82, 0.76, 0.9))  # straddles 0.8
    args = [run_dir, "--policy", write_policy(tmp_path, PARITY)]
    if flag:
        args += ["--inconclusive", flag]
    result = _gate(*args)
    assert result.exit_code == code, result.output
    assert "❔ inconclusive" in result.stdout


def test_failure_outranks_inconclusive(tmp_path):
    metrics = two_language_result(ratio=cest(0.82, 0.76, 0.9), sw_speedup=est(0.5, 0.4, 0.6))
    policy = write_policy(tmp_path, PARITY + "  - metric: min_speedup\n")
    result = _gate(write_run(tmp_path, metrics), "--policy", policy)
    assert result.exit_code == 1, result.output


def test_demonstrated_mode_lets_a_straddle_through(tmp_path):
    run_dir = _run_dir(tmp_path, cest(0.82, 0.76, 0.9))
    policy = write_policy(tmp_path, PARITY + "    mode: demonstrated\n")
    result = _gate(run_dir, "--policy", policy)
    assert result.exit_code == 0, result.output
    assert "❔ inconclusive (not blocking)" in result.stdout


def test_underpowered_run_exits_4(tmp_path):
    run_dir = _run_dir(tmp_path, cest(0.9), sw_speedup=est(1.5))  # no intervals
    result = _gate(run_dir, "--policy", write_policy(tmp_path, PARITY))
    assert result.exit_code == 4, result.output
    assert "insufficient data" in result.stdout


@pytest.mark.parametrize(
    ("policy_text", "expected"),
    [
        ("checks:\n  - metric: min_speedup\n    treshold: 1\n", "unknown field 'treshold'"),
        ("checks:\n  - metric: speedup\n", "unknown metric 'speedup'"),
        ("checks:\n  - metric: min_speedup\n    groups: [yo/story]\n", "'yo/story' not in the run"),
        ("checks: [", "is not valid YAML"),
    ],
)
def test_exit_2_bad_policy_is_one_line(tmp_path, policy_text, expected):
    run_dir = _run_dir(tmp_path, cest(0.95, 0.9, 1.0))
    result = _gate(run_dir, "--policy", write_policy(tmp_path, policy_text))
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and expected in result.stderr
    assert result.stderr.count("\n") == 1


def test_exit_2_bad_run_and_options(tmp_path):
    policy = write_policy(tmp_path, PARITY)
    missing = _gate(tmp_path / "nope", "--policy", policy)
    assert missing.exit_code == 2 and "does not exist" in missing.stderr
    (tmp_path / "empty").mkdir()
    empty = _gate(tmp_path / "empty", "--policy", policy)
    assert empty.exit_code == 2 and "has no metrics.json" in empty.stderr
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "metrics.json").write_text("{")
    broken = _gate(tmp_path / "broken", "--policy", policy)
    assert broken.exit_code == 2 and "cannot read" in broken.stderr
    run_dir = _run_dir(tmp_path, cest(0.95, 0.9, 1.0))
    flag = _gate(run_dir, "--policy", policy, "--inconclusive", "maybe")
    assert flag.exit_code == 2 and "--inconclusive 'maybe' is not allowed" in flag.stderr
    no_policy = _gate(run_dir)
    assert no_policy.exit_code == 2  # typer: missing --policy


def test_exit_3_when_the_gate_cannot_write(tmp_path):
    run_dir = _run_dir(tmp_path, cest(0.95, 0.9, 1.0))
    (tmp_path / "taken").mkdir()
    result = _gate(
        run_dir, "--policy", write_policy(tmp_path, PARITY), "--junit", tmp_path / "taken"
    )
    assert result.exit_code == 3
    assert result.stderr.startswith("error: gate could not write its output")


def test_exit_3_when_the_gate_crashes(tmp_path, monkeypatch):
    import specaudit.gate.runner as runner_module

    def broken(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(runner_module, "evaluate_checks", broken)
    run_dir = _run_dir(tmp_path, cest(0.95, 0.9, 1.0))
    result = _gate(run_dir, "--policy", write_policy(tmp_path, PARITY))
    assert result.exit_code == 3
    assert "error: gate failed: ZeroDivisionError: boom" in result.stderr


def test_run_gate_returns_a_typed_result(tmp_path):
    run_dir = _run_dir(tmp_path, cest(0.6, 0.55, 0.65))
    result = run_gate(run_dir, write_policy(tmp_path, PARITY), env={})
    assert result.exit_code == 1 and result.verdict.value == "fail"
    assert [r.subject for r in result.failing()] == ["sw/translation"]
    assert result.written == ()
