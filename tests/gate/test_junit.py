"""JUnit XML: the common testsuites/testsuite/testcase structure, parsed with the stdlib."""

import xml.etree.ElementTree as ET

import pytest

from specaudit.gate import evaluate_gate, junit_xml, parse_policy, write_junit
from tests.gate.builders import cest, contrast, est, group, result

POLICY = parse_policy(
    {
        "checks": [
            {"name": "parity", "metric": "min_speedup_ratio"},
            {"name": "no_slowdown", "metric": "min_speedup", "severity": "warning"},
        ]
    }
)


@pytest.fixture()
def metrics():
    # de passes, sw fails, yo straddles 0.8, ja has too few prompts.
    return result(
        [
            group("en/translation", speedup=est(2.0, 1.9, 2.1)),
            group("de/translation", speedup=est(1.9, 1.8, 2.0)),
            group("sw/translation", speedup=est(0.9, 0.8, 0.95)),
            group("yo/translation", speedup=est(1.6, 1.4, 1.8)),
            group("ja/translation", speedup=est(1.5), n=3),
        ],
        [
            contrast("de/translation", "en/translation", ratio=cest(0.95, 0.9, 1.0)),
            contrast("sw/translation", "en/translation", ratio=cest(0.45, 0.4, 0.5)),
            contrast("yo/translation", "en/translation", ratio=cest(0.8, 0.75, 0.86)),
            contrast("ja/translation", "en/translation", ratio=cest(0.75), n=3),
        ],
    )


def _parse(gate):
    root = ET.fromstring(junit_xml(gate))
    assert root.tag == "testsuites"
    return root


def _check_counts(element, cases):
    assert int(element.get("tests")) == len(cases)
    assert int(element.get("failures")) == sum(c.find("failure") is not None for c in cases)
    assert int(element.get("skipped")) == sum(c.find("skipped") is not None for c in cases)
    assert element.get("errors") == "0"
    float(element.get("time"))


def test_structure_and_counts_are_consistent(metrics):
    root = _parse(evaluate_gate(POLICY, metrics))
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["parity", "no_slowdown"]
    for suite in suites:
        assert set(c.tag for c in suite) <= {"properties", "testcase"}
        cases = suite.findall("testcase")
        _check_counts(suite, cases)
        for case in cases:
            assert case.get("classname") == f"specaudit.gate.{suite.get('name')}"
            assert case.get("name") and float(case.get("time")) == 0
            assert {c.tag for c in case} <= {"failure", "skipped", "system-out"}
            assert len([c for c in case if c.tag in ("failure", "skipped")]) <= 1
    _check_counts(root, root.findall("testsuite/testcase"))
    props = {p.get("name"): p.get("value") for p in suites[0].find("properties")}
    assert props["metric"] == "min_speedup_ratio" and props["threshold"] == ">= 0.8"


def test_one_case_per_check_and_group_with_the_right_child(metrics):
    root = _parse(evaluate_gate(POLICY, metrics))
    parity = {c.get("name"): c for c in root.find("testsuite[@name='parity']").findall("testcase")}
    assert list(parity) == ["de/translation", "sw/translation", "yo/translation", "ja/translation"]
    assert parity["de/translation"].find("failure") is None
    assert parity["de/translation"].find("skipped") is None
    failure = parity["sw/translation"].find("failure")
    assert failure.get("type") == "fail"
    message = failure.get("message")
    assert "sw/translation: speed-up ratio vs en/translation = 0.45" in message
    assert "interval [0.35, 0.55] (99.0% simultaneous)" in message
    assert "threshold ≥ 0.8" in message
    assert parity["yo/translation"].find("skipped").get("message").startswith("inconclusive: ")
    assert "insufficient data" in parity["ja/translation"].find("skipped").get("message")
    # A failed warning-severity check is a passing case that says so.
    slow = root.find("testsuite[@name='no_slowdown']/testcase[@name='sw/translation']")
    assert slow.find("failure") is None
    assert slow.find("system-out").text.startswith("warning: ")


def test_inconclusive_fail_turns_skips_into_failures(metrics):
    root = _parse(evaluate_gate(POLICY, metrics, inconclusive="fail"))
    case = root.find("testsuite[@name='parity']/testcase[@name='yo/translation']")
    assert case.find("failure").get("type") == "inconclusive" and case.find("skipped") is None
    _check_counts(root, root.findall("testsuite/testcase"))


def test_write_junit_creates_parents(metrics, tmp_path):
    path = write_junit(evaluate_gate(POLICY, metrics), tmp_path / "a" / "b.xml")
    assert ET.parse(path).getroot().tag == "testsuites"
    assert path.read_text(encoding="utf-8").startswith('<?xml version="1.0" encoding="UTF-8"?>')
