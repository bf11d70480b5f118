"""Numbers as report text: estimates with their intervals, and sort keys.

Everything here returns plain ``str`` (the templates escape it) or a
:class:`Value` that keeps the raw number for sorting beside the text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from specaudit.languages import LANGUAGE_NAMES
from specaudit.metrics import Estimate

__all__ = ["Value", "fmt", "fmt_p", "group_title", "language_name", "times", "value"]


@dataclass(frozen=True)
class Value:
    """A figure for a table cell.

    Attributes
    ----------
    text : str
        The point estimate, e.g. ``"1.23×"``; ``"n/a"`` when undefined.
    interval : str
        ``"[1.10, 1.35]"``, or ``""`` without an interval.
    sort : float or None
        The raw estimate, for sorting (``None`` sorts last).
    """

    text: str
    interval: str
    sort: float | None

    @property
    def sort_key(self) -> str:
        """The sort key as the ``data-sort`` attribute text (empty when undefined)."""
        return "" if self.sort is None else repr(self.sort)


def fmt(x: float | None, digits: int = 2, suffix: str = "") -> str:
    """``x`` with ``digits`` decimals and a suffix, or ``"n/a"``."""
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:.{digits}f}{suffix}"


def times(x: float | None) -> str:
    """Format a speed-up or ratio: ``"1.23×"``, or ``"n/a"``."""
    return fmt(x, 2, "×")


def fmt_p(p: float | None) -> str:
    """Format a p-value: ``"< 0.001"``, ``"0.012"``, or ``"n/a"``."""
    if p is None or not math.isfinite(p):
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def value(est: Estimate, digits: int = 2, suffix: str = "") -> Value:
    """Format an estimate and its interval."""
    interval = ""
    if est.ci_low is not None and est.ci_high is not None:
        interval = f"[{fmt(est.ci_low, digits)}, {fmt(est.ci_high, digits)}]"
    return Value(fmt(est.estimate, digits, suffix), interval, est.estimate)


def language_name(code: str) -> str:
    """English name of a built-in language, else the code itself."""
    return LANGUAGE_NAMES.get(code, code)


def group_title(key: str) -> str:
    """``"sw/story"`` -> ``"Swahili · story (sw/story)"``."""
    language, _, task = key.partition("/")
    return f"{language_name(language)} · {task} ({key})"
