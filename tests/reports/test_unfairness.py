"""How reports word U, its decomposition and the total-variation U."""

from __future__ import annotations

import json

import pytest

from specaudit.metrics import MetricsResult, compute_metrics
from specaudit.reports import build_context, load_run
from specaudit.reports.console import format_summary
from specaudit.reports.unfairness import entropy_share
from tests.reports.builders import default_specs, make_run


@pytest.fixture(scope="module")
def floored_run(tmp_path_factory):
    """A drafter with zeros in q: every unit of TV carries 23 nats of KL (the floor)."""
    run = make_run(
        tmp_path_factory.mktemp("floor") / "run",
        default_specs(12, languages=("en", "ar", "sw")),
        write_metrics=False,
    )
    records = [json.loads(line) for line in (run / "records.jsonl").read_text().splitlines()]
    for r in records:
        for s in r["steps"]:
            s["kl"] = [23.0 * (1.0 - a) for a in s["alpha"]]
            s["cross_entropy"] = [k + 1.0 for k in s["kl"]]
    (run / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    compute_metrics(records, n_boot=200).write(run)
    return run


def test_verdict_says_how_much_of_u_is_the_targets_entropy(default_run):
    result = MetricsResult.read(default_run)
    d = result.disparity
    assert not d.floor_dominated
    share = d.unfairness_u_entropy.estimate / d.unfairness_u.estimate
    assert entropy_share(d) == pytest.approx(share)
    verdict = build_context(load_run(default_run)).verdict
    text = " ".join(verdict.sentences)
    assert f"{share:.0%} of U is the spread of the target's own entropy" in text
    assert f"{d.unfairness_u_kl.estimate:.4f}" in text  # the drafter's part, U on KL
    assert [c.label for c in verdict.cards if "U" in c.label][:2] == [
        "Unfairness U",
        "U on KL (the drafter's part)",
    ]
    summary = format_summary(result)
    assert "Var(H)" in summary and f"{d.unfairness_u_kl.estimate:.4f}" in summary


def test_a_floor_dominated_run_leads_with_the_tv_figure(floored_run):
    result = MetricsResult.read(floored_run)
    d = result.disparity
    assert set(d.floor_dominated) == {g.group for g in result.groups}
    assert d.unfairness_u_tv.estimate is not None and d.unfairness_u_tv.estimate > 0
    verdict = build_context(load_run(floored_run)).verdict
    u_cards = [c.label for c in verdict.cards if "U" in c.label]
    assert u_cards == ["U on total variation", "Unfairness U (floor-dominated)"]
    text = " ".join(verdict.sentences)
    assert "floor-dominated" in text and f"{d.unfairness_u_tv.estimate:.4f}" in text
    assert "of U is the spread" not in text
    disparity_line = format_summary(result).splitlines()[len(result.groups) + 1]
    assert disparity_line.startswith("unfairness_u_tv:")
    assert "(floor-dominated)" in disparity_line
