"""The quality section: a group whose acceptance is high because its output loops."""

from __future__ import annotations

import dataclasses
import json

import pytest

from specaudit.metrics import compute_metrics
from specaudit.metrics.synthetic import GroupSpec, synthetic_records
from specaudit.reports import render_report
from specaudit.reports.quality import inflated_by_degeneracy, quality_view
from tests.reports.htmlcheck import Page

SENTENCE = "Amina found a small wooden box among her mangoes at the market. "


def _records() -> list[dict]:
    """Story groups; sw/story has the highest acceptance and loops in 12 of 12 outputs."""
    specs = [
        GroupSpec("en", "story", alpha=0.6, n_prompts=12),
        GroupSpec("de", "story", alpha=0.55, n_prompts=12),
        GroupSpec("sw", "story", alpha=0.9, n_prompts=12),
        GroupSpec("en", "translation", alpha=0.7, n_prompts=12),
        GroupSpec("sw", "translation", alpha=0.5, n_prompts=12),
    ]
    records = synthetic_records(specs, seed=4)
    for i, rec in enumerate(records):
        n = len(rec["output_ids"])
        if rec["language"] == "sw" and rec["task"] == "story":
            rec["output_ids"] = [11, 12] * (n // 2) + [11] * (n % 2)
            rec["output_text"] = ("kwa " * n).strip()
        else:
            rec["output_ids"] = list(range(100 + i * 1000, 100 + i * 1000 + n))
            rec["output_text"] = SENTENCE * 2
        if rec["task"] == "translation":
            rec["reference"] = SENTENCE.strip()
    return records


@pytest.fixture(scope="module")
def result():
    return compute_metrics(_records(), n_boot=200)


@pytest.fixture(scope="module")
def page(tmp_path_factory, result):
    run = tmp_path_factory.mktemp("degenerate") / "run"
    run.mkdir()
    with (run / "records.jsonl").open("w", encoding="utf-8") as fh:
        for rec in _records():
            fh.write(json.dumps(rec) + "\n")
    result.write(run)
    return Page(render_report(run).read_text(encoding="utf-8"))


def test_the_looping_group_is_flagged_as_inflated(result):
    sw = result.group("sw/story")
    assert sw.quality.degenerate_share.estimate == 1.0
    assert sw.quality.acceptance_rate_non_degenerate.estimate is None
    assert inflated_by_degeneracy(result) == ("sw/story",)
    view = quality_view(result)
    assert len(view.warnings) == 1 and "sw/story" in view.warnings[0]
    assert "no prompt of it is free of degeneracy" in view.warnings[0]
    badges = {r.key: r.badge.word for r in view.rows}
    assert badges["sw/story"] == "acceptance inflated"
    assert badges["en/story"] == "output ok"


def test_degenerate_but_not_inflating_is_named_without_the_warning(result):
    # Same degenerate outputs, but the group's acceptance is now the lowest of its task.
    low = dataclasses.replace(result.group("sw/story").acceptance_rate, estimate=0.1)
    groups = tuple(
        dataclasses.replace(g, acceptance_rate=low) if g.group == "sw/story" else g
        for g in result.groups
    )
    changed = dataclasses.replace(result, groups=groups)
    assert inflated_by_degeneracy(changed) == ()
    view = quality_view(changed)
    assert len(view.warnings) == 1
    assert view.warnings[0].startswith("Also degenerate in at least 25% of outputs")
    assert "sw/story (12 of 12)" in view.warnings[0]


def test_report_warns_in_words_and_draws_the_quality_plot(page):
    assert page.errors == []
    assert "quality" in page.sections
    assert page.plots["quality"] == 1
    verdict = page.text.split("1. Verdict")[2].split("2. Per-group table")[0]
    assert "Warning: Swahili · story (sw/story)" in verdict
    assert "because its output is degenerate" in verdict
    assert "Degenerate output" in verdict and "at least 25% of outputs degenerate" in verdict
    assert "characters/s speculative" in verdict
    quality = page.text.split("3. Output quality beside acceptance")[2]
    assert "! acceptance inflated" in quality
    assert "chrF" in quality and "Chars/s speculative" in quality


def test_report_of_older_metrics_says_quality_is_missing(tmp_path, result):
    data = result.to_dict()
    for group in data["groups"]:
        del group["quality"]
    run = tmp_path / "old"
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps(data))
    page = Page(render_report(run).read_text(encoding="utf-8"))
    assert page.errors == [] and "quality" in page.sections
    assert "metrics.json has no quality figures" in page.text
    assert page.plots["quality"] == 0
