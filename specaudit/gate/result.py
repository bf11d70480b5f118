"""The gate's typed result: one row per check and group, and the exit code.

Each row has an *outcome*, what the data say against the threshold (pass,
fail or inconclusive), and a *status*, what it means for the release after
the check's severity and mode:

=============  ==========================  ========================================
status         when                        blocks the release?
=============  ==========================  ========================================
pass           outcome pass                no
fail           outcome fail, error         yes: exit 1
warning        outcome fail, warning       no
inconclusive   outcome inconclusive        error severity: yes (exit 4, or as
                                           ``inconclusive=`` says), except a
                                           straddling interval in mode
                                           ``demonstrated``; warning: no
=============  ==========================  ========================================
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_FAIL",
    "EXIT_INCONCLUSIVE",
    "EXIT_PASS",
    "EXIT_RUNTIME",
    "INCONCLUSIVE_CHOICES",
    "CheckResult",
    "GateResult",
    "Outcome",
    "Status",
    "exit_code",
    "format_number",
    "percent",
]

EXIT_PASS = 0  #: every blocking check passed (warnings allowed)
EXIT_FAIL = 1  #: a blocking check failed
EXIT_BAD_INPUT = 2  #: bad policy, run directory or option (raised as UserInputError)
EXIT_RUNTIME = 3  #: the gate itself failed (raised as RuntimeFailure)
EXIT_INCONCLUSIVE = 4  #: nothing failed, but a blocking check could not be decided

#: What a blocking inconclusive check does to the exit code.
INCONCLUSIVE_CHOICES: tuple[str, ...] = ("block", "fail", "pass")
InconclusiveChoice = Literal["block", "fail", "pass"]


class Outcome(str, Enum):
    """What the data say against the threshold."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


class Status(str, Enum):
    """What a row means for the release."""

    PASS = "pass"
    FAIL = "fail"
    WARNING = "warning"
    INCONCLUSIVE = "inconclusive"

    @property
    def symbol(self) -> str:
        """An emoji beside the word (never instead of it)."""
        return _SYMBOLS[self]

    @property
    def label(self) -> str:
        """Symbol and word, e.g. ``"❌ fail"``."""
        return f"{self.symbol} {self.value}"


_SYMBOLS = {
    Status.PASS: "✅",
    Status.FAIL: "❌",
    Status.WARNING: "⚠️",
    Status.INCONCLUSIVE: "❔",
}


@dataclass(frozen=True)
class CheckResult:
    """One check applied to one group (or to a whole-run figure).

    Attributes
    ----------
    check, metric : str
        The check's name and metric.
    subject : str
        The group ``"language/task"``, ``"all groups"`` or ``"task <name>"``.
    quantity : str
        What ``estimate`` is, in words (``"speed-up ratio vs en/translation"``).
    estimate, ci_low, ci_high : float or None
        The figure and the interval the decision used (``None`` when absent).
    level : float or None
        Confidence level of that interval.
    interval_kind : str
        ``"simultaneous"``, ``"marginal"`` or ``"none"`` (mode ``point``).
    threshold : float
    comparison : str
        ``">="`` or ``"<="``: the side of the threshold that passes.
    severity, mode : str
    outcome : Outcome
    status : Status
    blocking : bool
        Whether this row stops the release (see the module table).
    explanation : str
        Why, in one sentence.
    p_adjusted : float or None
        For contrasts: Holm-adjusted p-value against *no disparity*.
    tolerance : float
        The timing tolerance the decision widened the interval by
        (``[ci_low / (1 + t), ci_high * (1 + t)]``); 0 for none.
    """

    check: str
    metric: str
    subject: str
    quantity: str
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    level: float | None
    interval_kind: str
    threshold: float
    comparison: str
    severity: str
    mode: str
    outcome: Outcome
    status: Status
    blocking: bool
    explanation: str
    p_adjusted: float | None = None
    tolerance: float = 0.0

    @property
    def interval_text(self) -> str:
        """``"[0.71, 0.93] (98.3% simultaneous)"``, or ``"n/a"``.

        With a timing tolerance, ``"[0.96, 1.02] (95.0% marginal, ±3% timing
        tolerance)"``: the interval as measured, and the widening judged.
        """
        if self.ci_low is None or self.ci_high is None:
            return "n/a"
        text = f"[{format_number(self.ci_low)}, {format_number(self.ci_high)}]"
        notes = [f"{self.level:.1%} {self.interval_kind}"] if self.level is not None else []
        if self.tolerance > 0.0:
            notes.append(f"±{percent(self.tolerance)} timing tolerance")
        if notes:
            text += f" ({', '.join(notes)})"
        return text

    @property
    def threshold_text(self) -> str:
        """``"≥ 0.8"`` or ``"≤ 0.05"``."""
        return f"{'≥' if self.comparison == '>=' else '≤'} {format_number(self.threshold)}"

    @property
    def message(self) -> str:
        """One line with estimate, interval, threshold and explanation."""
        return (
            f"{self.subject}: {self.quantity} = {format_number(self.estimate)}, "
            f"interval {self.interval_text}, threshold {self.threshold_text}: {self.explanation}"
        )


def format_number(value: float | None) -> str:
    """Three significant digits, or ``"n/a"``."""
    return "n/a" if value is None else f"{value:.3g}"


def percent(fraction: float) -> str:
    """Write a fraction as a percentage without float noise: ``0.03`` gives ``"3%"``."""
    return f"{100.0 * fraction:.3g}%"


def exit_code(rows: tuple[CheckResult, ...], *, inconclusive: InconclusiveChoice = "block") -> int:
    """Compute the gate's exit code from its rows.

    A blocking failure gives :data:`EXIT_FAIL`. Otherwise a blocking
    inconclusive row gives :data:`EXIT_INCONCLUSIVE` (``inconclusive="block"``),
    :data:`EXIT_FAIL` (``"fail"``) or :data:`EXIT_PASS` (``"pass"``).
    """
    if inconclusive not in INCONCLUSIVE_CHOICES:
        raise ValueError(
            f"inconclusive={inconclusive!r} is not allowed: expected one of "
            f"{', '.join(INCONCLUSIVE_CHOICES)}"
        )
    blocking = {r.status for r in rows if r.blocking}
    if Status.FAIL in blocking:
        return EXIT_FAIL
    if Status.INCONCLUSIVE in blocking:
        return {"block": EXIT_INCONCLUSIVE, "fail": EXIT_FAIL, "pass": EXIT_PASS}[inconclusive]
    return EXIT_PASS


@dataclass(frozen=True)
class GateResult:
    """Everything the gate decided about one run.

    Attributes
    ----------
    run_dir, policy : str
        The run directory and the policy file.
    baseline_dir : str or None
        The baseline run, when one was given.
    reference : str
        The run's reference (a language, or a ``"language/task"`` group).
    confidence_level : float
        Level of the run's marginal intervals.
    inconclusive : str
        What blocking inconclusive rows did: ``"block"``, ``"fail"`` or ``"pass"``.
    rows : tuple of CheckResult
        In policy order, then group order; baseline rows last.
    exit_code : int
        0 pass, 1 fail, 4 inconclusive (2 and 3 are raised as errors instead).
    notes : tuple of str
        Remarks for the reader (e.g. an unused baseline section).
    written : tuple of str
        Files written (JUnit XML, Markdown summary, GitHub step summary).
    """

    run_dir: str
    policy: str
    baseline_dir: str | None
    reference: str
    confidence_level: float
    inconclusive: str
    rows: tuple[CheckResult, ...]
    exit_code: int
    notes: tuple[str, ...] = ()
    written: tuple[str, ...] = ()

    @property
    def verdict(self) -> Status:
        """The gate as a whole: pass, fail or inconclusive (by the exit code)."""
        return {EXIT_PASS: Status.PASS, EXIT_FAIL: Status.FAIL}.get(
            self.exit_code, Status.INCONCLUSIVE
        )

    def count(self, status: Status) -> int:
        """How many rows have ``status``."""
        return sum(r.status is status for r in self.rows)

    @property
    def counts_text(self) -> str:
        """``"2 fail · 1 inconclusive · 14 pass · 1 warning"`` (zero counts left out)."""
        order = (Status.FAIL, Status.INCONCLUSIVE, Status.WARNING, Status.PASS)
        parts = [f"{self.count(s)} {s.value}" for s in order if self.count(s)]
        return " · ".join(parts) or "no checks"

    def failing(self) -> tuple[CheckResult, ...]:
        """Rows that block the release (failed, or inconclusive and blocking)."""
        return tuple(r for r in self.rows if r.blocking)
