"""``specaudit mitigate``: bad input is one line and exit 2; a full run writes every report."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from typer.testing import CliRunner

from specaudit.cli import app

runner = CliRunner()


def run_cli(*args):
    return runner.invoke(app, ["mitigate", *(str(a) for a in args)])


def _one_line_error(result, *words):
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for w in words:
        assert w in lines[0]


def test_unknown_strategy(tmp_path):
    _one_line_error(run_cli("--strategy", "magic", "--out", tmp_path / "m"), "magic", "scdf")


def test_invalid_training_option(tmp_path):
    _one_line_error(run_cli("--steps", "0", "--out", tmp_path / "m"), "--steps")


def test_run_without_config(tmp_path):
    _one_line_error(run_cli("--run", tmp_path, "--out", tmp_path / "m"), "config.yaml")


def test_existing_mitigation_needs_resume(tmp_path):
    (tmp_path / "mitigation.json").write_text("{}")
    _one_line_error(run_cli("--out", tmp_path), "--resume")


def _audit_run(path, tiny_dirs, prompts):
    """A run directory holding only the config.yaml that ``--run`` reads."""
    path.mkdir()
    config = {
        "target": str(tiny_dirs["target"]),
        "drafter": str(tiny_dirs["drafter"]),
        "prompts": [str(prompts)],
        "n_prompts": 2,
        "max_new_tokens": 8,
        "warmup": 0,
        "device": "cpu",
    }
    (path / "config.yaml").write_text(yaml.safe_dump(config))
    return path


def test_all_strategies_from_an_audit_run(tiny_dirs, split_prompts, tmp_path):
    run = _audit_run(tmp_path / "audit", tiny_dirs, split_prompts)
    out = tmp_path / "mitigation"
    result = run_cli(
        "--run",
        run,
        "--strategy",
        "all",
        "--out",
        out,
        "--steps",
        "2",
        "--batch-size",
        "2",
        "--n-train",
        "3",
        "--n-probe",
        "2",
        "--no-progress",
    )
    assert result.exit_code == 0, result.output
    strategies = ("ngram", "mono", "task", "balanced", "scdf")
    for name in strategies:
        assert (out / name / "audit" / "comparison.html").is_file()
    page = (out / "strategies.html").read_text()
    assert [m for m in re.findall(r'data-strategy="(\w+)"', page)][:6] == ["original", *strategies]
    payload = json.loads((out / "strategies.json").read_text())
    assert set(payload["group_speedup_change"]) == set(strategies)
    assert set(payload["scopes"]) == {"all groups", "translation", "story"}
    table = (out / "strategies.md").read_text()
    assert table.count("| scdf |") == 3 and table in result.output
    scdf = (out / "scdf" / "audit" / "comparison.html").read_text()
    assert 'data-section="training"' in scdf and 'data-plot="training-u"' in scdf
    assert 'data-plot="training-weights"' in scdf
    ngram = (out / "ngram" / "audit" / "comparison.html").read_text()
    assert 'data-section="training"' not in ngram
    # Groups in training: (language, kind) where the data has kinds, languages for mono;
    # every card reports the audit's U and its parts beside the objective's.
    cards = {n: json.loads((out / n / "training_card.json").read_text()) for n in strategies[1:]}
    assert all("/" in g for g in cards["scdf"]["data"]["groups"])
    assert {g.split("/")[1] for g in cards["scdf"]["data"]["groups"]} == {"translation", "text"}
    assert all(g.endswith("/translation") for g in cards["task"]["data"]["groups"])
    assert all("/" not in g for g in cards["mono"]["data"]["groups"])
    assert cards["mono"]["data"]["group_unit"].startswith("languages")
    groups = cards["scdf"]["data"]["groups"]
    assert set(cards["scdf"]["weights_over_time"][0]) == {"step", *groups}
    for card in cards.values():
        assert set(card["audit"]) == {"before", "after"}
        assert "unfairness_u_kl" in card["audit"]["after"]
        assert card["probe"]["after"]["unfairness_u_entropy"] is not None
    mono_md = (out / "mono" / "TRAINING_CARD.md").read_text()
    assert (
        "The audit's U beside the objective's" in mono_md
        and "weights and probes languages" in mono_md
    )


@pytest.mark.slow
def test_scdf_on_the_demo_pair(tmp_path):
    out = tmp_path / "m"
    result = run_cli(
        "--strategy",
        "scdf",
        "--languages",
        "en,sw",
        "--n-prompts",
        "3",
        "--steps",
        "10",
        "--out",
        out,
        "--no-progress",
    )
    assert result.exit_code == 0, result.output
    card = json.loads((out / "scdf" / "training_card.json").read_text())
    assert card["training"]["steps"] <= 10 and card["target_unchanged"]
    assert (out / "scdf" / "drafter" / "model.safetensors").is_file()
    assert "comparison.html" in result.output


def test_too_few_training_prompts_fail_before_any_audit(tiny_dirs, split_prompts, tmp_path):
    run = _audit_run(tmp_path / "audit", tiny_dirs, split_prompts)
    result = run_cli("--run", run, "--strategy", "task", "--out", tmp_path / "m")
    _one_line_error(result, "'en'", "training prompts")
    assert not (tmp_path / "m" / "before").exists()


def test_ctrl_c_exits_130_with_how_to_resume(tmp_path, monkeypatch):
    import specaudit.mitigation.pipeline as pipeline

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "mitigate", interrupted)
    result = runner.invoke(app, ["mitigate", "--out", str(tmp_path / "m")])
    assert result.exit_code == 130
    assert "--resume" in result.output


def test_prompts_without_a_heldout_split_are_refused(tiny_dirs, prompt_file, tmp_path):
    run = _audit_run(tmp_path / "audit", tiny_dirs, prompt_file)  # eval rows only
    result = run_cli("--run", run, "--strategy", "ngram", "--out", tmp_path / "m")
    _one_line_error(result, "'heldout'")
