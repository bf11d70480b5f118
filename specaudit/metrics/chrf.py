"""Translation quality of one output: chrF and chrF++ with sacrebleu's scorer.

chrF (Popović 2015) is the F-score (beta = 2, recall weighted twice) of
character n-grams up to order 6 between an output and its reference; chrF++
(Popović 2017) adds word uni- and bigrams. Both run from 0 to 100 (identical
strings). Character n-grams need no tokenizer, so the score means the same
in every language, including those written without spaces.

Scores come from ``sacrebleu.metrics.CHRF`` with its defaults
(``word_order=0`` for chrF, ``2`` for chrF++), one sentence at a time: no
download is needed. sacrebleu is imported on first use, so importing the
metrics package stays light.
"""

from __future__ import annotations

from functools import cache
from typing import Any

__all__ = ["CHRF_PLUS_PLUS_WORD_ORDER", "chrf", "chrf_plus_plus"]

#: sacrebleu's ``word_order`` for chrF++ (word uni- and bigrams).
CHRF_PLUS_PLUS_WORD_ORDER = 2


@cache
def _scorer(word_order: int) -> Any:
    from sacrebleu.metrics import CHRF

    return CHRF(word_order=word_order)


def _score(hypothesis: str, reference: str, word_order: int) -> float:
    if not isinstance(hypothesis, str) or not isinstance(reference, str):
        raise TypeError("hypothesis and reference must both be str")
    return float(_scorer(word_order).sentence_score(hypothesis, [reference]).score)


def chrf(hypothesis: str, reference: str) -> float:
    """Sentence-level chrF of ``hypothesis`` against one ``reference`` (0-100)."""
    return _score(hypothesis, reference, 0)


def chrf_plus_plus(hypothesis: str, reference: str) -> float:
    """Sentence-level chrF++ of ``hypothesis`` against one ``reference`` (0-100)."""
    return _score(hypothesis, reference, CHRF_PLUS_PLUS_WORD_ORDER)
