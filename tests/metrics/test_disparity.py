"""Spread of the groups: U, variance, min/max ratio, CV, worst group."""

from __future__ import annotations

import numpy as np
import pytest
from record_builders import group, step

from specaudit.metrics import compute_metrics
from specaudit.metrics.disparity import (
    speedup_cv,
    speedup_min_max_ratio,
    speedup_variance,
    unfairness_u,
    worst_group,
)


def test_spread_functions_by_hand():
    d = np.array([1.0, 2.0, 3.0])
    assert unfairness_u(d) == pytest.approx(2 / 3)  # population variance, equal weights
    s = np.array([1.0, 2.0, 4.0])
    assert speedup_variance(s) == pytest.approx(np.mean((s - 7 / 3) ** 2))
    assert speedup_min_max_ratio(s) == 0.25
    assert speedup_cv(s) == pytest.approx(np.std(s) / np.mean(s))
    assert worst_group(s, ["a", "b", "c"]) == "a"
    assert worst_group([np.nan, 2.0], ["a", "b"]) == "b"
    # Vectorised over leading axes (bootstrap replicates).
    np.testing.assert_allclose(unfairness_u(np.array([[1.0, 1.0], [0.0, 2.0]])), [0.0, 1.0])


def _audit():
    records = []
    for lang, ce, base in [("en", 1.0, 2.0), ("de", 2.0, 1.5), ("sw", 3.0, 1.0)]:
        records += group([step(4, 2, ce=ce)], 12, language=lang, baseline_time_s=base)
        records += group([step(4, 2, ce=ce)], 12, language=lang, task="u", baseline_time_s=base)
    return records


def test_disparity_within_task_and_across_groups():
    result = compute_metrics(_audit(), n_boot=200)
    disparity = result.disparity
    # Across all 6 groups: D = 1, 2, 3 twice -> U = 2/3; speed-ups 2, 1.5, 1 twice.
    assert len(disparity.groups) == 6
    assert disparity.unfairness_u.estimate == pytest.approx(2 / 3)
    assert disparity.speedup_min_max_ratio.estimate == pytest.approx(0.5)
    assert disparity.speedup_variance.estimate == pytest.approx(np.var([2, 1.5, 1]))
    assert disparity.worst_group in {"sw/t", "sw/u"}
    assert disparity.share_slower.estimate == 0.0
    assert [t.task for t in disparity.by_task] == ["t", "u"]
    for task in disparity.by_task:
        assert task.unfairness_u.estimate == pytest.approx(2 / 3)
        assert task.worst_group == f"sw/{task.task}"
        assert len(task.groups) == 3
    # Identical prompts: no sampling noise, the intervals collapse on the estimate.
    assert disparity.unfairness_u.ci_low == pytest.approx(2 / 3)


def test_small_groups_are_left_out_of_the_spread():
    records = _audit() + group([step(4, 2)], 3, language="fr")
    result = compute_metrics(records, n_boot=200)
    assert "fr/t" not in result.disparity.groups
    assert result.group("fr/t").status == "insufficient data"
    assert result.group("fr/t").speedup.ci_low is None
    assert any("fr/t" in note for note in result.notes)
