"""JUnit XML of a gate result, for CI test reporters.

Layout (the common JUnit schema, as Jenkins, GitLab and GitHub reporters
read it)::

    <testsuites name="specaudit gate" tests= failures= errors="0" skipped= time="0">
      <testsuite name="<check>" tests= failures= errors="0" skipped= time="0">
        <properties><property name="metric" value="min_speedup_ratio"/>...</properties>
        <testcase classname="specaudit.gate.<check>" name="<group>" time="0">
          <failure type="fail" message="<estimate, interval, threshold, why>">...</failure>
          <system-out>...</system-out>
        </testcase>
      </testsuite>
    </testsuites>

One test suite per check, one test case per check and group. A blocking
failure is a ``<failure>``; an inconclusive row is ``<skipped>`` (or a
``<failure type="inconclusive">`` when the gate ran with
``inconclusive="fail"``); a warning is a passing case whose ``<system-out>``
says so. Every case's ``<system-out>`` holds the full message.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

from specaudit.gate.result import CheckResult, GateResult, Status

__all__ = ["junit_xml", "write_junit"]


def _case(parent: ET.Element, row: CheckResult, *, inconclusive: str) -> str | None:
    """Append one ``<testcase>``; return ``"failure"``, ``"skipped"`` or ``None``."""
    case = ET.SubElement(
        parent,
        "testcase",
        {"classname": f"specaudit.gate.{row.check}", "name": row.subject, "time": "0"},
    )
    kind = None
    if row.status is Status.FAIL:
        kind = "failure"
        ET.SubElement(case, "failure", {"type": "fail", "message": row.message}).text = row.message
    elif row.status is Status.INCONCLUSIVE and row.blocking and inconclusive == "fail":
        kind = "failure"
        ET.SubElement(
            case, "failure", {"type": "inconclusive", "message": row.message}
        ).text = row.message
    elif row.status is Status.INCONCLUSIVE:
        kind = "skipped"
        ET.SubElement(case, "skipped", {"message": f"inconclusive: {row.message}"})
    ET.SubElement(case, "system-out").text = f"{row.status.value}: {row.message}"
    return kind


def junit_xml(result: GateResult) -> str:
    """Render a gate result as a JUnit XML document (UTF-8, with declaration)."""
    root = ET.Element("testsuites", {"name": "specaudit gate"})
    suites: dict[str, list[CheckResult]] = {}
    for row in result.rows:
        suites.setdefault(row.check, []).append(row)
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    for name, rows in suites.items():
        suite = ET.SubElement(root, "testsuite", {"name": name})
        props = ET.SubElement(suite, "properties")
        first = rows[0]
        for key, value in (
            ("metric", first.metric),
            ("threshold", f"{first.comparison} {first.threshold:g}"),
            ("severity", first.severity),
            ("mode", first.mode),
            ("intervals", first.interval_kind),
            ("run", result.run_dir),
        ):
            ET.SubElement(props, "property", {"name": key, "value": value})
        counts = {"tests": len(rows), "failures": 0, "skipped": 0}
        for row in rows:
            kind = _case(suite, row, inconclusive=result.inconclusive)
            if kind == "failure":
                counts["failures"] += 1
            elif kind == "skipped":
                counts["skipped"] += 1
        _set_counts(suite, counts)
        for key in totals:
            totals[key] += counts[key]
    _set_counts(root, totals)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=False).join(
        ('<?xml version="1.0" encoding="UTF-8"?>\n', "\n")
    )


def _set_counts(element: ET.Element, counts: dict[str, int]) -> None:
    element.set("tests", str(counts["tests"]))
    element.set("failures", str(counts["failures"]))
    element.set("errors", "0")
    element.set("skipped", str(counts["skipped"]))
    element.set("time", "0")


def write_junit(result: GateResult, path: str | os.PathLike[str]) -> Path:
    """Write :func:`junit_xml` to ``path`` (parent directories created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(junit_xml(result), encoding="utf-8")
    return path
