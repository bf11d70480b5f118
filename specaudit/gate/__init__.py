"""The release gate: check a run's metrics against a YAML policy, for CI.

Reads only ``metrics.json`` (never records, models or torch). Typical use::

    from specaudit.gate import run_gate

    result = run_gate("runs/x", "gate.yaml", junit="gate.xml", summary="gate.md")
    raise SystemExit(result.exit_code)  # 0 pass, 1 fail, 4 inconclusive

Exit codes: 0 pass (warnings allowed), 1 a blocking check failed, 2 bad
input or policy (:class:`~specaudit.errors.UserInputError`), 3 the gate
itself failed (:class:`~specaudit.errors.RuntimeFailure`), 4 nothing failed
but a blocking check was inconclusive. See :mod:`specaudit.gate.checks` for
the interval modes and :mod:`specaudit.gate.policy` for the policy file.
"""

from specaudit.gate.baseline import baseline_rows
from specaudit.gate.checks import Figure, evaluate, evaluate_checks, judge
from specaudit.gate.console import format_text
from specaudit.gate.junit import junit_xml, write_junit
from specaudit.gate.markdown import append_step_summary, markdown_summary, write_summary
from specaudit.gate.policy import (
    CONTRAST_METRICS,
    DEFAULT_THRESHOLDS,
    METRICS,
    BaselineCheck,
    BaselineSpec,
    Check,
    CheckDefaults,
    CheckSpec,
    GatePolicy,
    example_policy_path,
    load_policy,
    parse_policy,
    resolve_baseline,
    resolve_policy,
)
from specaudit.gate.result import (
    EXIT_BAD_INPUT,
    EXIT_FAIL,
    EXIT_INCONCLUSIVE,
    EXIT_PASS,
    EXIT_RUNTIME,
    INCONCLUSIVE_CHOICES,
    CheckResult,
    GateResult,
    Outcome,
    Status,
    exit_code,
)
from specaudit.gate.runner import evaluate_gate, read_metrics, run_gate

__all__ = [
    "CONTRAST_METRICS",
    "DEFAULT_THRESHOLDS",
    "EXIT_BAD_INPUT",
    "EXIT_FAIL",
    "EXIT_INCONCLUSIVE",
    "EXIT_PASS",
    "EXIT_RUNTIME",
    "INCONCLUSIVE_CHOICES",
    "METRICS",
    "BaselineCheck",
    "BaselineSpec",
    "Check",
    "CheckDefaults",
    "CheckResult",
    "CheckSpec",
    "Figure",
    "GatePolicy",
    "GateResult",
    "Outcome",
    "Status",
    "append_step_summary",
    "baseline_rows",
    "evaluate",
    "evaluate_checks",
    "evaluate_gate",
    "example_policy_path",
    "exit_code",
    "format_text",
    "judge",
    "junit_xml",
    "load_policy",
    "markdown_summary",
    "parse_policy",
    "read_metrics",
    "resolve_baseline",
    "resolve_policy",
    "run_gate",
    "write_junit",
    "write_summary",
]
