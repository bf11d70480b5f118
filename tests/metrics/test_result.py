"""The result object: JSON round trip, NaN-free output, atomic writer."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from specaudit.metrics import (
    GROUP_METRICS,
    SCHEMA_VERSION,
    Estimate,
    MetricsResult,
    compute_metrics,
)
from specaudit.metrics.synthetic import GroupSpec, synthetic_records


@pytest.fixture(scope="module")
def result():
    specs = [
        GroupSpec("en", n_prompts=12),
        GroupSpec("sw", alpha=0.4, n_prompts=12, short_draft_prob=0.3),
        GroupSpec("de", n_prompts=4),  # insufficient data: nulls in the JSON
        GroupSpec("en", "story", n_prompts=12),
    ]
    return compute_metrics(synthetic_records(specs, seed=0), n_boot=200)


def test_estimate_status_rules():
    assert Estimate.of(float("nan"), 0, 1) == Estimate(None, None, None, "insufficient data")
    assert Estimate.of(0.5, 0.1, 0.9, sufficient=False) == Estimate(
        0.5, None, None, "insufficient data"
    )
    assert Estimate.of(0.5, 0.1, float("inf")).status == "insufficient data"
    assert Estimate.of(0.5, 0.1, 0.9) == Estimate(0.5, 0.1, 0.9, "ok")


def test_json_round_trip(result):
    data = result.to_dict()
    text = json.dumps(data, allow_nan=False)  # NaN-free
    again = MetricsResult.from_dict(json.loads(text))
    assert again == result
    assert again.to_dict() == data


def test_metrics_json_layout(result):
    data = result.to_dict()
    assert list(data) == [
        "schema_version",
        "settings",
        "n_prompts",
        "groups",
        "disparity",
        "timing",
        "notes",
    ]
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["settings"]["gamma"] == 4 and data["settings"]["n_boot"] == 200
    group = data["groups"][0]
    for key in ("group", "language", "task", "n_prompts", "status", *GROUP_METRICS):
        assert key in group
    assert set(group["speedup"]) == {"estimate", "ci_low", "ci_high", "status"}
    assert len(group["position_acceptance"]) == 4
    disparity = data["disparity"]
    for key in ("unfairness_u", "speedup_min_max_ratio", "reference", "contrasts", "by_task"):
        assert key in disparity
    contrast = disparity["contrasts"][0]
    assert {"p_value", "p_adjusted", "sim_ci_low", "sim_ci_high"} <= set(contrast["speedup_ratio"])
    small = next(g for g in data["groups"] if g["language"] == "de")
    assert small["status"] == "insufficient data" and small["speedup"]["ci_low"] is None


def test_from_dict_rejects_another_schema(result):
    data = result.to_dict() | {"schema_version": 99}
    with pytest.raises(ValueError, match="schema_version 99"):
        MetricsResult.from_dict(data)


def test_write_and_read(tmp_path, result):
    paths = result.write(tmp_path / "run")
    assert [p.name for p in paths] == ["metrics.json", "groups.csv", "prompts.csv"]
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [
        "groups.csv",
        "metrics.json",
        "prompts.csv",
    ]  # no temporary files left behind
    text = (tmp_path / "run" / "metrics.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert MetricsResult.read(tmp_path / "run") == result
    groups = pd.read_csv(tmp_path / "run" / "groups.csv")
    assert len(groups) == len(result.groups)
    assert {"speedup", "speedup_ci_low", "speedup_ci_high", "position_acceptance_4"} <= set(
        groups.columns
    )
    prompts = pd.read_csv(tmp_path / "run" / "prompts.csv")
    assert len(prompts) == result.n_prompts
    sw = prompts[prompts["group"] == "sw/translation"]
    assert math.isclose(
        sw["baseline_time_s"].sum() / sw["spec_time_s"].sum(),
        result.group("sw/translation").speedup.estimate,
    )


def test_write_replaces_existing_files(tmp_path, result):
    (tmp_path / "metrics.json").write_text("old")
    result.write(tmp_path)
    assert json.loads((tmp_path / "metrics.json").read_text())["schema_version"] == SCHEMA_VERSION
