from typer.testing import CliRunner

from specaudit.cli import app
from tests.reports.builders import default_specs, make_run
from tests.reports.conftest import SMALL
from tests.reports.htmlcheck import Page

runner = CliRunner()


def run_cli(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_report_computes_missing_metrics_then_writes_report_html(tmp_path):
    specs = default_specs(10, languages=("en", "sw"))
    run = make_run(tmp_path / "run", specs, write_metrics=False)
    result = run_cli("report", run)
    assert result.exit_code == 0, result.output
    assert "computing it first" in result.output
    assert (run / "metrics.json").is_file()
    assert f"report: {run / 'report.html'}" in result.output
    assert Page((run / "report.html").read_text(encoding="utf-8")).errors == []


def test_report_compare_and_out(tmp_path, after_run, before_run):
    out = tmp_path / "cmp.html"
    result = run_cli("report", after_run, "--compare", before_run, "--out", out)
    assert result.exit_code == 0, result.output
    assert out.is_file() and "Before/after" in out.read_text(encoding="utf-8")


def test_report_errors_are_one_line_with_exit_code_2(tmp_path, before_run):
    result = run_cli("report", tmp_path / "missing")
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and result.output.count("\n") == 1
    (tmp_path / "empty").mkdir()
    result = run_cli("report", tmp_path / "empty")
    assert result.exit_code == 2 and "records.jsonl" in result.output
    other = make_run(tmp_path / "other", default_specs(SMALL["n_prompts"], languages=("en", "de")))
    result = run_cli("report", other, "--compare", before_run)
    assert result.exit_code == 2
    assert "groups differ" in result.output and "de/translation" in result.output
