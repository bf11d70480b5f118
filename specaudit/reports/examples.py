"""Example prompts and outputs per group, picked from the per-prompt table.

Per group the examples span the group's per-prompt speed-ups (slowest,
median, fastest for three), so that a reader sees what a slow and a fast
prompt look like. Texts are returned as plain strings: the template escapes
them (autoescape), and right-to-left text is laid out by the browser
(``dir="auto"``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from specaudit.reports.formatting import fmt, group_title
from specaudit.reports.status import Badge, lossless_badge

__all__ = ["Example", "ExampleGroup", "clean_text", "pick_rows", "select_examples"]

#: Longer texts are cut (the full text is in prompts.csv).
MAX_CHARS = 1200

# C0 control characters other than tab, newline and carriage return are not
# allowed in HTML; they are shown as U+FFFD.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Example:
    """One prompt with its output.

    Attributes
    ----------
    id, why : str
        The prompt id, and why it was picked (``"slowest"``, ...).
    prompt, output : str
        The texts, cut to :data:`MAX_CHARS`.
    speedup, acceptance : str
        The prompt's own figures, formatted.
    lossless : Badge
        Whether speculative output equalled plain decoding.
    truncated : bool
        Whether a text was cut.
    before_output : str or None
        In a comparison, the output of the before run when it differs.
    """

    id: str
    why: str
    prompt: str
    output: str
    speedup: str
    acceptance: str
    lossless: Badge
    truncated: bool
    before_output: str | None = None


@dataclass(frozen=True)
class ExampleGroup:
    """The examples of one group, for one collapsible block."""

    key: str
    title: str
    examples: tuple[Example, ...]


def clean_text(text: object, max_chars: int = MAX_CHARS) -> tuple[str, bool]:
    """Return ``text`` as a string fit for HTML, cut to ``max_chars``, and whether it was cut."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return "", False
    text = _CONTROL.sub("\ufffd", str(text))
    if len(text) <= max_chars:
        return text, False
    return text[:max_chars] + " …", True


def pick_rows(frame: pd.DataFrame, k: int) -> list[tuple[int, str]]:
    """Up to ``k`` row positions spread over the speed-up order, with a reason each.

    Prompts without a speed-up are picked only when no prompt has one.
    """
    speedup = frame["speedup"].to_numpy(float)
    finite = np.flatnonzero(np.isfinite(speedup))
    if len(finite) == 0:
        return [(i, "example") for i in range(min(k, len(frame)))]
    order = finite[np.argsort(speedup[finite], kind="stable")]
    n = len(order)
    if k < 1:
        return []
    spots = sorted({round(x) for x in np.linspace(0, n - 1, min(k, n))})
    names = {0: "slowest", n - 1: "fastest", (n - 1) // 2: "median", n // 2: "median"}
    return [(int(order[s]), names.get(s, "typical")) for s in spots]


def select_examples(
    prompts: pd.DataFrame | None, *, per_group: int = 3, max_chars: int = MAX_CHARS
) -> tuple[ExampleGroup, ...]:
    """Pick examples for every group of a per-prompt table.

    Parameters
    ----------
    prompts : DataFrame or None
        The ``prompts.csv`` table (``MetricsResult.prompts``); ``None`` gives
        no examples.
    per_group : int, default 3
        Examples per group.
    max_chars : int
        Longer prompts and outputs are cut.

    Returns
    -------
    tuple of ExampleGroup
        In the table's group order.
    """
    if prompts is None or "group" not in prompts:
        return ()
    out = []
    for key, frame in prompts.groupby("group", sort=False):
        frame = frame.reset_index(drop=True)
        examples = []
        for row, why in pick_rows(frame, per_group):
            rec = frame.iloc[row]
            prompt, cut_prompt = clean_text(rec.get("prompt"), max_chars)
            output, cut_output = clean_text(rec.get("output_text"), max_chars)
            examples.append(
                Example(
                    id=str(rec["id"]),
                    why=why,
                    prompt=prompt,
                    output=output,
                    speedup=fmt(_float(rec.get("speedup")), 2, "×"),
                    acceptance=fmt(_float(rec.get("acceptance_rate")), 3),
                    lossless=lossless_badge(_lossless(rec.get("lossless"))),
                    truncated=cut_prompt or cut_output,
                )
            )
        out.append(ExampleGroup(str(key), group_title(str(key)), tuple(examples)))
    return tuple(out)


def _float(x: object) -> float | None:
    try:
        x = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _lossless(x: object) -> object:
    if isinstance(x, float) and math.isnan(x):
        return None
    return x
