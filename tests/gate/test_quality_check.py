"""The gate's min_non_degenerate_share check: degenerate groups do not count as served."""

from __future__ import annotations

import dataclasses

import pytest

from specaudit.errors import UserInputError
from specaudit.gate import evaluate_gate
from specaudit.gate.policy import parse_policy
from specaudit.gate.result import EXIT_FAIL, EXIT_INCONCLUSIVE, EXIT_PASS
from specaudit.metrics.quality_result import QUALITY_METRICS, GroupQuality
from tests.gate.builders import NONE, est, group, result


def _quality(share: float, low: float | None, high: float | None) -> GroupQuality:
    values = dict.fromkeys(QUALITY_METRICS, NONE)
    values["non_degenerate_share"] = est(share, low, high)
    values["degenerate_share"] = est(1 - share, None if high is None else 1 - high, None)
    return GroupQuality(n_degenerate=0, n_with_reference=0, **values)


def _metrics(**shares: tuple[float, float | None, float | None] | None):
    groups = []
    for key, share in shares.items():
        g = group(key.replace("_", "/"), speedup=est(1.5, 1.3, 1.7))
        quality = None if share is None else _quality(*share)
        groups.append(dataclasses.replace(g, quality=quality))
    return result(groups)


def _gate(metrics, **check):
    policy = parse_policy({"checks": [{"metric": "min_non_degenerate_share", **check}]})
    return evaluate_gate(policy, metrics)


def test_pass_fail_and_straddle_by_interval():
    metrics = _metrics(
        en_story=(0.95, 0.9, 1.0), sw_story=(0.2, 0.05, 0.4), de_story=(0.8, 0.6, 0.95)
    )
    gate = _gate(metrics, threshold=0.8)
    by_group = {r.subject: r for r in gate.rows}
    assert by_group["en/story"].status.value == "pass"
    assert by_group["sw/story"].status.value == "fail" and by_group["sw/story"].blocking
    assert by_group["de/story"].status.value == "inconclusive"  # [0.6, 0.95] straddles
    assert by_group["sw/story"].quantity == "non-degenerate share"
    assert gate.exit_code == EXIT_FAIL


def test_mode_point_uses_the_share_alone():
    metrics = _metrics(en_story=(0.95, 0.9, 1.0), de_story=(0.8, 0.6, 0.95))
    assert _gate(metrics, threshold=0.8, mode="point").exit_code == EXIT_PASS
    assert _gate(metrics, threshold=0.81, mode="point").exit_code == EXIT_FAIL


def test_older_metrics_without_quality_are_inconclusive():
    gate = _gate(_metrics(en_story=None), threshold=0.5)
    assert gate.exit_code == EXIT_INCONCLUSIVE
    assert "recompute them with `specaudit metrics`" in gate.rows[0].explanation


def test_few_prompts_are_inconclusive():
    gate = _gate(_metrics(en_story=(1.0, None, None)), threshold=0.5)
    assert gate.rows[0].status.value == "inconclusive"
    assert "insufficient data" in gate.rows[0].explanation


@pytest.mark.parametrize("threshold", [-0.1, 1.5])
def test_threshold_must_be_a_share(threshold):
    with pytest.raises(UserInputError, match=r"threshold .* is not a share in \[0, 1\]"):
        parse_policy({"checks": [{"metric": "min_non_degenerate_share", "threshold": threshold}]})


def test_threshold_is_required():
    with pytest.raises(UserInputError, match="min_non_degenerate_share needs a threshold"):
        parse_policy({"checks": [{"metric": "min_non_degenerate_share"}]})
