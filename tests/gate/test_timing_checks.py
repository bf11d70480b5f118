"""Timing health in the gate: unreliable runs make measured speed-up checks inconclusive."""

from __future__ import annotations

import dataclasses

import pytest

from specaudit.gate import Outcome, Status, parse_policy
from specaudit.gate.runner import evaluate_gate
from specaudit.metrics.timing import TimingHealth
from tests.gate.builders import cest, contrast, est, group, result

POLICY = parse_policy(
    {
        "version": 1,
        "checks": [
            {"metric": "min_speedup", "threshold": 1.0},
            {"metric": "min_speedup_ratio", "threshold": 0.8},
            {"metric": "min_speedup_modelled", "threshold": 1.0},
        ],
    }
)


def _health(verdict: str) -> TimingHealth:
    return TimingHealth(
        verdict=verdict,
        reasons=("9% of prompts still have a stalled timing",) if verdict != "ok" else (),
        n_prompts=60,
        n_retimed=8,
        n_attempts=80,
        repeats=1,
        n_flagged=6 if verdict != "ok" else 0,
        flagged=(),
        spread_plain=0.05,
        spread_spec=0.05,
        fence_plain=1.2,
        fence_spec=1.2,
        modelled_gap=0.02,
        load_1m_median=1.0,
        load_1m_max=2.0,
        cpu_steal=None,
        cpu_steal_max=None,
    )


def _run(verdict: str | None, *, modelled: tuple[float, float, float]):
    groups = []
    for key in ("en/story", "sw/story"):
        g = group(key, speedup=est(1.3, 1.2, 1.4))
        groups.append(dataclasses.replace(g, speedup_modelled=est(*modelled)))
    metrics = result(groups, [contrast("sw/story", "en/story", ratio=cest(1.0, 0.9, 1.1))])
    if verdict is not None:
        metrics = dataclasses.replace(metrics, timing=_health(verdict))
    return evaluate_gate(POLICY, metrics)


@pytest.mark.parametrize("verdict", [None, "ok", "noisy"])
def test_trusted_timing_decides_measured_checks(verdict):
    gate = _run(verdict, modelled=(1.3, 1.2, 1.4))
    assert all(r.outcome is Outcome.PASS for r in gate.rows)
    assert gate.exit_code == 0


def test_unreliable_timing_makes_measured_checks_inconclusive():
    gate = _run("unreliable", modelled=(1.3, 1.2, 1.4))
    by_metric = {}
    for row in gate.rows:
        by_metric.setdefault(row.metric, []).append(row)
    for metric in ("min_speedup", "min_speedup_ratio"):
        for row in by_metric[metric]:
            assert row.outcome is Outcome.INCONCLUSIVE
            assert row.status is Status.INCONCLUSIVE and row.blocking
            assert "timing unreliable" in row.explanation
            assert "stalled timing" in row.explanation
            assert "min_speedup_modelled" in row.explanation
    # The modelled speed-up is immune to stalls and still decides.
    assert all(r.outcome is Outcome.PASS for r in by_metric["min_speedup_modelled"])
    assert gate.exit_code == 4


@pytest.mark.parametrize(
    ("modelled", "outcome", "code"),
    [((1.3, 1.2, 1.4), Outcome.PASS, 0), ((0.8, 0.7, 0.9), Outcome.FAIL, 1)],
)
def test_modelled_check_passes_and_fails_deterministically(modelled, outcome, code):
    for _ in range(3):
        gate = _run("ok", modelled=modelled)
        rows = [r for r in gate.rows if r.metric == "min_speedup_modelled"]
        assert [r.outcome for r in rows] == [outcome, outcome]
        assert rows[0].quantity == "modelled speed-up"
        assert gate.exit_code == code
