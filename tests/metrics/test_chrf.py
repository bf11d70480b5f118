"""chrF and chrF++ agree with sacrebleu's own sentence scores."""

from __future__ import annotations

import pytest
from sacrebleu.metrics import CHRF

from specaudit.metrics.chrf import chrf, chrf_plus_plus

PAIRS = [
    ("The cat sat on the mat.", "The cat sat on the mat."),
    ("A cat was sitting on a mat.", "The cat sat on the mat."),
    ("Returns the Poisson distribution.", "Returns the probability of a Poisson variable."),
    ("打开表格对话框。", "打开「表格」对话框。"),
    ("kwa kwa kwa kwa kwa", "Habari ya asubuhi, rafiki yangu."),
    ("", "Not empty."),
]


@pytest.mark.parametrize(("hypothesis", "reference"), PAIRS)
def test_matches_sacrebleu_sentence_scores(hypothesis, reference):
    assert chrf(hypothesis, reference) == CHRF().sentence_score(hypothesis, [reference]).score
    assert (
        chrf_plus_plus(hypothesis, reference)
        == CHRF(word_order=2).sentence_score(hypothesis, [reference]).score
    )


def test_range_and_order():
    assert chrf("The cat sat on the mat.", "The cat sat on the mat.") == pytest.approx(100.0)
    close = chrf("A cat was sitting on a mat.", "The cat sat on the mat.")
    far = chrf("kwa kwa kwa kwa kwa", "The cat sat on the mat.")
    assert 0.0 <= far < close < 100.0


def test_rejects_non_text():
    with pytest.raises(TypeError):
        chrf(None, "x")  # type: ignore[arg-type]
