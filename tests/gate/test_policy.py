"""Policy validation: one-line messages for typos, unknown metrics and groups not in the run."""

import pytest
import yaml

from specaudit.errors import UserInputError
from specaudit.gate import (
    example_policy_path,
    load_policy,
    parse_policy,
    resolve_baseline,
    resolve_policy,
)
from tests.gate.builders import cest, two_language_result, write_policy


@pytest.fixture()
def metrics():
    return two_language_result(ratio=cest(0.9, 0.85, 0.95))


def _error(data, metrics=None) -> str:
    with pytest.raises(UserInputError) as info:
        policy = parse_policy(data, source="gate.yaml")
        resolve_policy(policy, metrics)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_example_policy_loads_and_fits_a_run(metrics):
    path = example_policy_path()
    assert path.name == "example_policy.yaml" and path.is_file()
    policy = load_policy(path)
    checks = resolve_policy(policy, metrics)
    assert [c.metric for c in checks] == [
        "min_speedup_ratio",
        "min_speedup",
        "min_speedup_modelled",
        "max_acceptance_gap",
        "min_non_degenerate_share",
        "max_unfairness_u",
    ]
    assert checks[0].threshold == 0.8 and checks[0].groups == ("sw/translation",)
    assert checks[1].mode == "demonstrated" and checks[1].intervals == "marginal"
    assert resolve_baseline(policy).max_speedup_drop == 0.10


def test_defaults_fill_in_unset_fields(metrics):
    policy = parse_policy(
        {
            "defaults": {"mode": "point", "severity": "warning"},
            "checks": [{"metric": "min_speedup"}],
        }
    )
    (check,) = resolve_policy(policy, metrics)
    assert (check.mode, check.severity, check.threshold) == ("point", "warning", 1.0)
    assert check.groups == ("en/translation", "sw/translation")


def test_filters_by_language_and_task(metrics):
    policy = parse_policy({"checks": [{"metric": "min_speedup", "languages": ["sw"]}]})
    assert resolve_policy(policy, metrics)[0].groups == ("sw/translation",)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"checks": [{"metric": "min_speedup", "treshold": 1.0}]},
            "check 1 (min_speedup): unknown field 'treshold' (did you mean 'threshold'?",
        ),
        (
            {"checks": [{"metric": "min_speedup_ration"}]},
            "unknown metric 'min_speedup_ration' (did you mean 'min_speedup_ratio'? allowed: "
            "min_speedup_ratio, max_unfairness_u, min_speedup, min_speedup_modelled, "
            "max_acceptance_gap, min_non_degenerate_share, max_unfairness_u_kl, "
            "max_unfairness_u_tv)",
        ),
        ({"check": []}, "policy: unknown field 'check' (did you mean 'checks'?"),
        ({"checks": []}, "checks: List should have at least 1 item"),
        ({"checks": [{"metric": "max_unfairness_u"}]}, "max_unfairness_u needs a threshold"),
        ({"checks": [{"metric": "min_speedup_ratio", "threshold": 0}]}, "threshold 0 is not"),
        ({"checks": [{"metric": "min_speedup", "mode": "strict"}]}, "check 1 (min_speedup): mode:"),
        ({"checks": [{"metric": "min_speedup", "groups": ["sw"]}]}, "group 'sw' must be written"),
        (
            {"checks": [{"metric": "min_speedup", "intervals": "simultaneous"}]},
            "intervals: simultaneous exists only for min_speedup_ratio, max_acceptance_gap",
        ),
        (
            {"checks": [{"metric": "min_speedup"}, {"metric": "min_speedup"}]},
            "two checks are named 'min_speedup'",
        ),
        ({"defaults": {"mode": "loose"}, "checks": [{"metric": "min_speedup"}]}, "defaults: mode:"),
        ({"version": 2, "checks": [{"metric": "min_speedup"}]}, "version: Input should be 1"),
        (["min_speedup"], "expected a mapping with checks:"),
    ],
)
def test_bad_policy_gives_one_line(data, expected):
    message = _error(data)
    assert message.startswith("invalid policy gate.yaml: ")
    assert expected in message


@pytest.mark.parametrize(
    ("check", "expected"),
    [
        (
            {"metric": "min_speedup", "groups": ["sw/story"]},
            "policy check 1 (min_speedup): group 'sw/story' not in the run "
            "(groups in the run: en/translation, sw/translation)",
        ),
        ({"metric": "min_speedup", "languages": ["yo"]}, "language 'yo' not in the run"),
        ({"metric": "min_speedup", "tasks": ["story"]}, "task 'story' not in the run"),
        (
            {"metric": "min_speedup_ratio", "groups": ["en/translation"]},
            "en/translation is a reference group",
        ),
        (
            {"metric": "min_speedup", "groups": ["sw/translation"], "languages": ["en"]},
            "selects no group of the run",
        ),
        ({"metric": "max_unfairness_u", "threshold": 1, "tasks": ["qa"]}, "task 'qa' not in"),
    ],
)
def test_policy_that_does_not_fit_the_run(metrics, check, expected):
    assert expected in _error({"checks": [check]}, metrics)


def test_unreadable_and_invalid_yaml_files(tmp_path):
    with pytest.raises(UserInputError, match="cannot read policy"):
        load_policy(tmp_path / "missing.yaml")
    bad = write_policy(tmp_path, "checks: [metric: {")
    with pytest.raises(UserInputError, match="is not valid YAML") as info:
        load_policy(bad)
    assert "\n" not in str(info.value)


def test_example_policy_is_valid_yaml_with_comments():
    text = example_policy_path().read_text(encoding="utf-8")
    assert text.startswith("#") and isinstance(yaml.safe_load(text), dict)
