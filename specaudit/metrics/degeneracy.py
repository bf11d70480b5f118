"""Per-prompt degeneracy of the target's output: repetition loops and low diversity.

Acceptance is inflated by degenerate output: when the target falls into a
loop ("kwa kwa kwa …") the drafter predicts it easily, so a group can look
well served while its users get garbage. These measures say, per prompt,
whether the output is such a loop.

Measures (per prompt)
---------------------
``distinct_1``, ``distinct_2``, ``distinct_3``
    Distinct-n: unique n-grams of ``output_ids`` over all n-grams (Li et al.
    2016, "A Diversity-Promoting Objective Function for Neural Conversation
    Models"). 1.0 means no n-gram repeats; NaN for outputs shorter than n.
    Token ids rather than words, so that text without spaces (Chinese,
    Japanese) is measured like any other.
``loop_length``
    Tokens in the longest stretch of ``output_ids`` made of one n-gram
    repeated back to back, at least twice in full (``a b a b a`` is a loop
    of 5 with period 2); 0 when nothing repeats back to back.
``loop_share``
    ``loop_length / len(output_ids)`` (NaN for an empty output).
``compression_ratio``
    UTF-8 bytes of ``output_text`` over its zlib-compressed bytes (the
    repetition measure of Whisper's decoding fallback); NaN for empty text.

The ``degenerate`` flag
-----------------------
A prompt is *degenerate* when ``loop_share >= 0.5`` (one n-gram repeated
back to back covers at least half of the output) or ``distinct_2 < 0.5``
(more than half of the token bigrams are repeats). Both thresholds are
module constants (:data:`LOOP_SHARE_THRESHOLD`,
:data:`DISTINCT_2_THRESHOLD`).

The compression ratio is reported but left out of the flag on purpose: it
grows with length and with bytes per character. Among 30 random passages of
500 and 1000 characters of normal held-out text per built-in language
(``specaudit/data/text``), the most compressible exceeds Whisper's 2.4
cut-off in 8 of 11 languages, up to 3.99 for Hindi (three UTF-8 bytes per
character); see ``scripts/compression_of_normal_text.py``.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "DISTINCT_2_THRESHOLD",
    "LOOP_SHARE_THRESHOLD",
    "Degeneracy",
    "compression_ratio",
    "degeneracy",
    "distinct_n",
    "is_degenerate",
    "loop_length",
]

#: A loop covering at least this share of the output makes it degenerate.
LOOP_SHARE_THRESHOLD = 0.5
#: A distinct-2 ratio below this makes the output degenerate.
DISTINCT_2_THRESHOLD = 0.5


@dataclass(frozen=True)
class Degeneracy:
    """The degeneracy measures of one output (see the module docstring)."""

    n_tokens: int
    distinct_1: float
    distinct_2: float
    distinct_3: float
    loop_length: int
    loop_share: float
    compression_ratio: float
    degenerate: bool


def distinct_n(ids: Sequence[int], n: int) -> float:
    """Distinct-n: unique n-grams over all n-grams of ``ids``.

    Parameters
    ----------
    ids : sequence of int
        Token ids of one output.
    n : int
        N-gram order, at least 1.

    Returns
    -------
    float
        In (0, 1]; 1.0 means no n-gram occurs twice. NaN when ``ids`` has
        fewer than ``n`` tokens.
    """
    if n < 1:
        raise ValueError(f"n={n!r} is not allowed: expected an integer >= 1")
    grams = [tuple(ids[i : i + n]) for i in range(len(ids) - n + 1)]
    return len(set(grams)) / len(grams) if grams else float("nan")


def loop_length(ids: Sequence[int]) -> int:
    """Length in tokens of the longest back-to-back repetition of one n-gram.

    For each period p, a run of r consecutive positions with
    ``ids[i] == ids[i - p]`` spans ``r + p`` tokens of period p; it is a loop
    when ``r >= p``, i.e. the n-gram of length p appears at least twice in
    full. The result is the longest such span over all periods.

    Returns
    -------
    int
        0 when no n-gram repeats back to back.
    """
    a = np.asarray(ids)
    best = 0
    for p in range(1, len(a) // 2 + 1):
        same = np.concatenate(([False], a[p:] == a[:-p], [False]))
        # Runs of True: starts where False->True, ends where True->False.
        edges = np.flatnonzero(np.diff(same.astype(np.int8)))
        runs = edges[1::2] - edges[::2]
        longest = int(runs.max()) if runs.size else 0
        if longest >= p:
            best = max(best, longest + p)
    return best


def compression_ratio(text: str) -> float:
    """UTF-8 bytes of ``text`` over its zlib-compressed bytes (NaN for empty text).

    Repetitive text compresses well and scores high; short texts score
    below 1 because of zlib's fixed overhead.
    """
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else float("nan")


def is_degenerate(loop_share: float, distinct_2: float) -> bool:
    """Apply the documented flag: ``loop_share >= 0.5 or distinct_2 < 0.5``.

    NaN measures (outputs too short to have them) never flag.
    """
    return bool(loop_share >= LOOP_SHARE_THRESHOLD or distinct_2 < DISTINCT_2_THRESHOLD)


def degeneracy(ids: Sequence[int], text: str) -> Degeneracy:
    """All degeneracy measures and the flag of one output.

    Parameters
    ----------
    ids : sequence of int
        The output's token ids (``output_ids``).
    text : str
        Its decoded text (``output_text``).

    Returns
    -------
    Degeneracy
    """
    n = len(ids)
    loop = loop_length(ids)
    share = loop / n if n else float("nan")
    d2 = distinct_n(ids, 2)
    return Degeneracy(
        n_tokens=n,
        distinct_1=distinct_n(ids, 1),
        distinct_2=d2,
        distinct_3=distinct_n(ids, 3),
        loop_length=loop,
        loop_share=share,
        compression_ratio=compression_ratio(text),
        degenerate=is_degenerate(share, d2),
    )
