"""The library runs the whole pipeline, and gets what the CLI gets."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

import specaudit
from specaudit.cli import app
from tests.test_cli import pair_args

#: Figures that depend on the decodes' tokens only, not on their timings.
TOKEN_FIGURES = ("acceptance_rate", "mean_accepted_length", "distributional_alpha_token", "kl")


@pytest.fixture(scope="module")
def cli_run(tiny_dirs, tmp_path_factory):
    from tests.conftest import write_prompt_file

    root = tmp_path_factory.mktemp("cli")
    prompts = write_prompt_file(root / "prompts.jsonl")
    out = root / "run"
    result = CliRunner().invoke(app, [str(a) for a in pair_args(tiny_dirs, prompts, out)])
    assert result.exit_code == 0, result.output
    return out


def test_public_api_is_declared_and_import_stays_light():
    import subprocess
    import sys

    assert {
        "RunConfig",
        "Run",
        "audit",
        "compute_metrics",
        "render_report",
        "check_gate",
        "mitigate",
        "run_pipeline",
    } <= set(specaudit.__all__)
    code = "import sys, specaudit; print('torch' in sys.modules, 'transformers' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]


def test_python_pipeline_writes_the_clis_metrics_json(cli_run, tmp_path):
    # The same records through the library: resume finds every prompt done.
    copy = tmp_path / "run"
    shutil.copytree(cli_run, copy)
    for name in ("metrics.json", "groups.csv", "prompts.csv", "report.html"):
        (copy / name).unlink(missing_ok=True)
    config = specaudit.Run.load(cli_run).config
    result = specaudit.run_pipeline(config, copy, resume=True, progress=False)
    assert result.summary.n_new == 0
    assert (copy / "metrics.json").read_text() == (cli_run / "metrics.json").read_text()
    assert result.report == copy / "report.html" and result.report.is_file()
    assert result.run.directory == copy and result.gate is None


def test_a_fresh_python_run_measures_the_same_tokens(cli_run, tmp_path):
    config = specaudit.Run.load(cli_run).config
    result = specaudit.run_pipeline(config, tmp_path / "py", progress=False)
    cli = json.loads((cli_run / "metrics.json").read_text())
    py = json.loads((tmp_path / "py" / "metrics.json").read_text())
    assert py.keys() == cli.keys() and py["settings"] == cli["settings"]
    for g_cli, g_py in zip(cli["groups"], py["groups"], strict=True):
        assert g_cli["group"] == g_py["group"]
        for name in TOKEN_FIGURES:
            assert g_py[name]["estimate"] == pytest.approx(g_cli[name]["estimate"]), name
    assert result.metrics.n_prompts == cli["n_prompts"] == 8


def test_the_steps_one_by_one(cli_run, tmp_path):
    run = specaudit.Run.load(cli_run)
    assert run.config.gamma == 3 and len(run.records) == 8
    assert run.environment  # environment.json was read
    metrics = specaudit.compute_metrics(run, n_boot=200)
    assert metrics.n_prompts == 8
    assert specaudit.compute_metrics(run.records, n_boot=200).to_dict() == metrics.to_dict()
    path = specaudit.render_report(cli_run, out=tmp_path / "r.html")
    assert path.is_file() and "<html" in path.read_text(encoding="utf-8")[:500].lower()


def test_bad_input_is_a_user_error(tmp_path):
    from specaudit.errors import UserInputError

    with pytest.raises(UserInputError, match=r"has no config\.yaml"):
        specaudit.Run.load(tmp_path)
    with pytest.raises(UserInputError, match="target and --drafter"):
        specaudit.run_pipeline(specaudit.RunConfig(target="x"), tmp_path / "r")
    with pytest.raises(UserInputError, match="--resume needs --out"):
        specaudit.run_pipeline(specaudit.RunConfig(), resume=True)


def test_records_come_round_robin_across_groups(cli_run):
    # Four groups of two: the first round decodes one prompt of each group.
    rows = [json.loads(line) for line in (cli_run / "records.jsonl").open()]
    first = rows[:4]
    assert len({(r["language"], r["task"]) for r in first}) == 4
    assert all(r["id"].endswith("-0") for r in first)
