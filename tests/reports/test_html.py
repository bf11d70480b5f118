import html
import json
import re

import pytest

from specaudit.errors import UserInputError
from specaudit.gate import run_gate
from specaudit.gate.policy import example_policy_path
from specaudit.metrics import SCHEMA_VERSION, MetricsResult
from specaudit.reports import render_report
from tests.reports.builders import HOSTILE, SCRIPT, default_specs, make_run
from tests.reports.htmlcheck import Page

SECTIONS = ["verdict", "groups", "quality", "plots", "contrasts", "examples", "method"]
PLOTS = [
    "quality",
    "speedup",
    "acceptance",
    "position",
    "analytic",
    "tokenization",
    "distribution",
]


@pytest.fixture(scope="module")
def text(default_report):
    return default_report.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def page(text):
    return Page(text)


def test_report_parses_with_every_section_and_one_plot_per_figure(page):
    assert page.errors == []
    assert page.sections == SECTIONS
    assert list(page.plots) == PLOTS
    assert all(n == 1 for n in page.plots.values()), page.plots


def test_default_audit_report_is_under_two_megabytes(default_report):
    assert default_report.stat().st_size < 2_000_000


def test_hostile_prompt_text_is_escaped(text, page):
    # The only <script> element is the report's own.
    assert page.scripts == 1
    assert text.count("<script") == 1
    assert SCRIPT not in text
    assert "onerror=alert" not in text.replace("onerror=alert(2)&gt;", "")
    assert "<img" not in text
    assert html.escape(SCRIPT) in text
    # The parsed text is the original: escaped, not mangled.
    for hostile in HOSTILE:
        assert hostile in page.text
    assert "&#34;stop&#34; &amp; &#39;go&#39;" in text


def test_right_to_left_text_sits_in_direction_auto_elements(page):
    inside = "".join(page.dir_auto_text)
    assert "مرحبا بالعالم" in inside  # Arabic
    assert "שלום עולם" in inside  # Hebrew


def test_no_external_resources(page, text):
    assert all(not re.match(r"^[a-z]+://", u) or u.startswith("data:") for u in page.urls)
    assert "http://" not in text.replace("http://www.w3.org/", "")
    assert "https://" not in text
    assert "default-src 'none'" in text


def test_links_to_the_data_files_are_relative(page, default_report):
    for name in ("metrics.json", "groups.csv", "prompts.csv"):
        assert name in page.urls
        assert (default_report.parent / name).is_file()


def test_verdict_names_the_worst_group_and_u(page, default_run):
    result = MetricsResult.read(default_run)
    worst = result.disparity.worst_group
    verdict = page.text.split("2. Per-group table")[1]  # the nav entry comes first
    assert worst in verdict
    assert "Swahili" in verdict  # the worst-served language, by name
    u = result.disparity.unfairness_u
    assert f"{u.estimate:.4f}" in verdict and f"{u.ci_low:.4f}" in verdict


def test_status_is_shown_in_words_and_symbols(page):
    # Each status word comes with its symbol (never colour alone).
    assert "▲ faster" in page.text
    assert "◆ unclear" in page.text or "▼ slower" in page.text
    assert "★ reference" in page.text
    assert "✓ lossless" in page.text


def test_every_group_and_metric_definition_appears(page, default_run):
    result = MetricsResult.read(default_run)
    for g in result.groups:
        assert g.group in page.text
    for name in ("acceptance_rate", "mean_accepted_length", "unfairness_u", "tokens_per_char"):
        assert name in page.text
    assert "weights_fingerprint" in page.text and "sha256-head:89052c25253c6bc8" in page.text


def test_report_writes_atomically_and_elsewhere_with_working_links(default_run, tmp_path):
    out = render_report(default_run, out=tmp_path / "nested" / "r.html")
    page = Page(out.read_text(encoding="utf-8"))
    links = [u for u in page.urls if u.endswith((".json", ".csv"))]
    assert len(links) == 3
    for link in links:
        assert (out.parent / link).resolve().is_file()
    assert [p.name for p in out.parent.iterdir()] == ["r.html"]  # no temporary file left


def test_gate_result_appears_in_the_verdict(default_run, tmp_path):
    gate = run_gate(default_run, example_policy_path(), env={})
    out = render_report(default_run, gate=gate, out=tmp_path / "gated.html")
    text = Page(out.read_text(encoding="utf-8")).text
    assert "Release gate" in text
    assert gate.verdict.value.upper() in text
    as_dict = {
        "exit_code": 1,
        "policy": "p.yaml",
        "rows": [
            {
                "status": "fail",
                "check": "speedup_ratio",
                "subject": "sw/story",
                "message": "<b>too slow</b>",
                "blocking": True,
            }
        ],
    }
    out = render_report(default_run, gate=as_dict, out=tmp_path / "dict.html")
    raw = out.read_text(encoding="utf-8")
    assert "✗ FAIL" in raw and "&lt;b&gt;too slow&lt;/b&gt;" in raw


def test_missing_metrics_is_a_user_error(tmp_path):
    run = make_run(tmp_path / "run", write_metrics=False)
    with pytest.raises(UserInputError, match="specaudit metrics"):
        render_report(run)


def test_a_run_without_prompts_csv_still_renders(tmp_path, default_run):
    run = tmp_path / "bare"
    run.mkdir()
    (run / "metrics.json").write_text((default_run / "metrics.json").read_text())
    page = Page(render_report(run).read_text(encoding="utf-8"))
    assert page.errors == [] and page.sections == SECTIONS
    assert "config.yaml not found" in page.text
    assert page.plots["distribution"] == 0  # said in words instead
    assert json.loads((run / "metrics.json").read_text())["schema_version"] == SCHEMA_VERSION


def test_a_tiny_run_without_intervals_renders(tmp_path):
    # The shape `specaudit run` makes in the CLI tests: 2 prompts per group, no intervals.
    specs = default_specs(2, languages=("en", "sw"))
    page = Page(render_report(make_run(tmp_path / "tiny", specs)).read_text(encoding="utf-8"))
    assert page.errors == [] and page.sections == SECTIONS
    assert "○ no interval" in page.text
    assert "n/a×" not in page.text
