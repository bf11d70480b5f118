"""Status words and symbols for reports: never colour alone.

Every status a report shows is a :class:`Badge`: a word, a symbol beside it,
and a CSS class that may add colour on top. A reader who cannot tell the
colours apart (or prints in black and white) still reads the word and the
symbol. Symbols are plain Unicode shapes, not emoji, so that they render with
ordinary fonts.
"""

from __future__ import annotations

from dataclasses import dataclass

from specaudit.metrics import Estimate

__all__ = [
    "Badge",
    "change_badge",
    "contrast_badge",
    "gate_badge",
    "interval_side",
    "lossless_badge",
    "speedup_badge",
    "timing_badge",
]


@dataclass(frozen=True)
class Badge:
    """A status as a word, a symbol and a CSS class.

    Attributes
    ----------
    word : str
        What the status means, e.g. ``"slower"``.
    symbol : str
        A shape shown before the word, e.g. ``"▼"``.
    css : str
        CSS class: ``good``, ``bad``, ``unclear`` or ``none``.
    title : str
        A longer explanation (tooltip).
    """

    word: str
    symbol: str
    css: str
    title: str = ""

    @property
    def label(self) -> str:
        """Symbol and word, e.g. ``"▼ slower"``."""
        return f"{self.symbol} {self.word}"


def interval_side(low: float | None, high: float | None, null: float) -> int | None:
    """Where an interval lies against ``null``: 1 above, -1 below, 0 straddling.

    Returns ``None`` when there is no interval.
    """
    if low is None or high is None:
        return None
    if low > null:
        return 1
    if high < null:
        return -1
    return 0


_NO_INTERVAL = Badge("no interval", "○", "none", "too few prompts for an interval")


def speedup_badge(speedup: Estimate) -> Badge:
    """Faster or slower than plain decoding, judged by the interval against 1.0."""
    side = interval_side(speedup.ci_low, speedup.ci_high, 1.0)
    if side is None:
        return _NO_INTERVAL
    return {
        1: Badge("faster", "▲", "good", "the whole interval is above 1.0"),
        -1: Badge("slower", "▼", "bad", "the whole interval is below 1.0: slower than plain"),
        0: Badge("unclear", "◆", "unclear", "the interval contains 1.0"),
    }[side]


def contrast_badge(
    low: float | None, high: float | None, p_adjusted: float | None, *, null: float, alpha: float
) -> Badge:
    """Judge a contrast against the reference: below, above, or no clear difference.

    A contrast is called below or above the reference only when its
    Holm-adjusted p-value is below ``alpha``; otherwise it is ``no clear
    difference`` (the interval, or the multiplicity correction, does not rule
    out the null).
    """
    side = interval_side(low, high, null)
    if side is None:
        return _NO_INTERVAL
    if p_adjusted is not None and p_adjusted < alpha and side != 0:
        if side < 0:
            return Badge("below reference", "▼", "bad", f"Holm-adjusted p < {alpha:g}")
        return Badge("above reference", "▲", "good", f"Holm-adjusted p < {alpha:g}")
    return Badge("no clear difference", "◆", "unclear", f"Holm-adjusted p ≥ {alpha:g}")


def change_badge(
    low: float | None,
    high: float | None,
    *,
    null: float,
    p_adjusted: float | None = None,
    alpha: float | None = None,
) -> Badge:
    """Judge a before/after change: better, worse, or no clear change.

    The interval must exclude ``null``; when ``alpha`` is given (a family of
    changes), the Holm-adjusted p-value must also be below it.
    """
    side = interval_side(low, high, null)
    if side is None:
        return _NO_INTERVAL
    if alpha is not None and side != 0 and (p_adjusted is None or p_adjusted >= alpha):
        return Badge("no clear change", "◆", "unclear", f"Holm-adjusted p ≥ {alpha:g}")
    return {
        1: Badge("better", "▲", "good", "the whole interval shows an increase"),
        -1: Badge("worse", "▼", "bad", "the whole interval shows a decrease"),
        0: Badge("no clear change", "◆", "unclear", "the interval contains no change"),
    }[side]


def lossless_badge(lossless: object) -> Badge:
    """Whether the speculative output equalled plain decoding (greedy mode)."""
    if lossless is True or str(lossless).lower() == "true":
        return Badge("lossless", "✓", "good", "speculative output equals plain decoding")
    if lossless is False or str(lossless).lower() == "false":
        return Badge("NOT lossless", "✗", "bad", "speculative output differs from plain")
    return Badge("not checked", "○", "none", "sampling mode: outputs are not compared")


def gate_badge(verdict: str) -> Badge:
    """Show a gate verdict or row status: pass, fail, warning or inconclusive."""
    verdict = verdict.lower()
    if verdict == "pass":
        return Badge("PASS", "✓", "good", "every blocking check passed")
    if verdict == "fail":
        return Badge("FAIL", "✗", "bad", "a blocking check failed")
    if verdict == "warning":
        return Badge("WARNING", "!", "unclear", "failed, but the check does not block")
    return Badge(verdict.upper() or "UNKNOWN", "?", "unclear", "the check could not be decided")


_TIMING = {
    "ok": Badge("ok", "●", "good", "timings follow the cost model; no stalled prompt left"),
    "noisy": Badge("noisy", "◆", "unclear", "figures kept, but some timings stalled or scattered"),
    "unreliable": Badge(
        "unreliable",
        "▼",
        "bad",
        "measured speed-ups are not to be acted on; the gate treats their checks as inconclusive",
    ),
    "unknown": Badge("unknown", "○", "none", "records without timing attempts (version 1)"),
}


def timing_badge(verdict: str) -> Badge:
    """Return the badge of a timing health verdict (``ok``, ``noisy``, ``unreliable``)."""
    return _TIMING.get(verdict, _TIMING["unknown"])
