"""Degeneracy measures on hand-made outputs: a loop, a normal sentence, CJK text."""

from __future__ import annotations

import math

import pytest

from specaudit.metrics.degeneracy import (
    DISTINCT_2_THRESHOLD,
    LOOP_SHARE_THRESHOLD,
    compression_ratio,
    degeneracy,
    distinct_n,
    is_degenerate,
    loop_length,
)

# "kwa kwa kwa ..." as a tokenizer would give it: one id per word.
LOOP_TEXT = "kwa " * 24
LOOP_IDS = [17] * 24
# A normal sentence: every word once, ids by first appearance.
SENTENCE = "The fisherman mended his nets while the children sang by the shore at dusk."
SENTENCE_IDS = list(range(14))
# Chinese without spaces, one id per character (as a character tokenizer would).
CJK = "今天早上我去市场买了新鲜的水果和蔬菜。"
CJK_IDS = [ord(ch) for ch in CJK]
# The same CJK phrase looped: "我们走吧" four times.
CJK_LOOP = "我们走吧" * 4
CJK_LOOP_IDS = [ord(ch) for ch in CJK_LOOP]


def test_loop_is_degenerate():
    d = degeneracy(LOOP_IDS, LOOP_TEXT)
    assert d.distinct_1 == pytest.approx(1 / 24)
    assert d.distinct_2 == pytest.approx(1 / 23)
    assert d.distinct_3 == pytest.approx(1 / 22)
    assert d.loop_length == 24
    assert d.loop_share == 1.0
    assert d.compression_ratio > 3.0
    assert d.degenerate


def test_normal_sentence_is_not_degenerate():
    d = degeneracy(SENTENCE_IDS, SENTENCE)
    assert (d.distinct_1, d.distinct_2, d.distinct_3) == (1.0, 1.0, 1.0)
    assert d.loop_length == 0 and d.loop_share == 0.0
    assert d.compression_ratio < 1.5
    assert not d.degenerate


def test_cjk_without_spaces():
    d = degeneracy(CJK_IDS, CJK)
    assert d.distinct_1 == pytest.approx(len(set(CJK)) / len(CJK))
    assert d.distinct_2 == 1.0 and d.loop_length == 0
    assert not d.degenerate
    looped = degeneracy(CJK_LOOP_IDS, CJK_LOOP)
    assert looped.loop_length == 16 and looped.loop_share == 1.0
    assert looped.distinct_2 == pytest.approx(4 / 15)  # 4 distinct bigrams of 15
    assert looped.degenerate


def test_loop_length_by_hand():
    assert loop_length([1, 2, 1, 2, 1]) == 5  # period 2, 2.5 copies
    assert loop_length([5, 1, 2, 3, 1, 2, 3, 9]) == 6  # "1 2 3" twice
    assert loop_length([1, 2, 3, 1, 2]) == 0  # the repeat is not complete
    assert loop_length([4, 4]) == 2
    assert loop_length([]) == 0 and loop_length([7]) == 0
    # The longest loop wins over a shorter one elsewhere.
    assert loop_length([3, 3, 3, 0, 1, 2, 1, 2, 1, 2, 1, 2]) == 8


def test_distinct_n_edges():
    assert math.isnan(distinct_n([1], 2))
    assert distinct_n([1, 2, 1, 2], 2) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="n=0"):
        distinct_n([1, 2], 0)


def test_compression_ratio_of_empty_text_is_nan():
    assert math.isnan(compression_ratio(""))
    assert compression_ratio("ab" * 200) > compression_ratio(SENTENCE)


def test_flag_thresholds():
    assert is_degenerate(LOOP_SHARE_THRESHOLD, 1.0)
    assert not is_degenerate(LOOP_SHARE_THRESHOLD - 0.01, DISTINCT_2_THRESHOLD)
    assert is_degenerate(0.0, DISTINCT_2_THRESHOLD - 0.01)
    assert not is_degenerate(float("nan"), float("nan"))  # too short to judge
    # A half-loop output: one sentence then the same sentence again.
    twice = SENTENCE_IDS + SENTENCE_IDS
    assert degeneracy(twice, SENTENCE + " " + SENTENCE).degenerate
