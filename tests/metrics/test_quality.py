"""Per-group output quality: degenerate share, figures on non-degenerate prompts, chrF."""

from __future__ import annotations

import json

import numpy as np
import pytest
from record_builders import record, step
from sacrebleu.metrics import CHRF

from specaudit.metrics import MetricsResult, compute_metrics

REFERENCE = "The market opens before the sun grows hot."
OUTPUTS = [
    "The market opens before sunrise.",
    "A market opened before the heat.",
    "Markets open early in the morning.",
]


def _looping(rec: dict, *, word: str = "kwa") -> dict:
    n = len(rec["output_ids"])
    rec["output_ids"] = [7] * n
    rec["output_text"] = f"{word} " * n
    return rec


def _records() -> list[dict]:
    """sw: 4 looping prompts accepting every draft, 6 normal ones accepting 1 of 4."""
    out = []
    for i in range(10):
        looping = i < 4
        steps = [step(4, 4) for _ in range(3)] if looping else [step(4, 1) for _ in range(3)]
        rec = record(
            steps,
            id=f"sw-{i}",
            language="sw",
            baseline_time_s=2.0 + i,
            spec_time_s=1.0 if looping else 1.5,
        )
        out.append(_looping(rec) if looping else rec)
    for i in range(10):
        rec = record([step(4, 2) for _ in range(3)], id=f"en-{i}", language="en")
        rec["output_text"] = OUTPUTS[i % 3]
        rec["reference"] = REFERENCE if i % 2 == 0 else None
        out.append(rec)
    return out


@pytest.fixture(scope="module")
def result() -> MetricsResult:
    return compute_metrics(_records(), n_boot=300, seed=1)


def test_degenerate_share_and_non_degenerate_figures_by_hand(result):
    sw = result.group("sw/t")
    q = sw.quality
    assert q.n_degenerate == 4
    assert q.degenerate_share.estimate == pytest.approx(0.4)
    assert q.non_degenerate_share.estimate == pytest.approx(0.6)
    lo, hi = q.degenerate_share.ci_low, q.degenerate_share.ci_high
    assert 0.0 <= lo < 0.4 < hi <= 1.0
    # Normal prompts: 3 steps of 1 accepted + 1 rejection each -> alpha 1/2.
    assert q.acceptance_rate_non_degenerate.estimate == pytest.approx(0.5)
    # All prompts: (4*12 + 6*3) accepted over (4*12 + 6*6) verified.
    assert sw.acceptance_rate.estimate == pytest.approx(66 / 84)
    assert sw.acceptance_rate.estimate > q.acceptance_rate_non_degenerate.estimate
    base = sum(2.0 + i for i in range(4, 10))
    assert q.speedup_non_degenerate.estimate == pytest.approx(base / (6 * 1.5))
    kept = q.acceptance_rate_non_degenerate
    assert kept.ci_low <= 0.5 <= kept.ci_high


def test_chrf_is_the_mean_of_sacrebleu_sentence_scores(result):
    en = result.group("en/t").quality
    scored = [OUTPUTS[i % 3] for i in range(10) if i % 2 == 0]
    chrf = [CHRF().sentence_score(h, [REFERENCE]).score for h in scored]
    chrfpp = [CHRF(word_order=2).sentence_score(h, [REFERENCE]).score for h in scored]
    assert en.n_with_reference == 5
    assert en.chrf.estimate == pytest.approx(np.mean(chrf))
    assert en.chrf_plus_plus.estimate == pytest.approx(np.mean(chrfpp))
    assert en.chrf.ci_low <= en.chrf.estimate <= en.chrf.ci_high
    assert en.n_degenerate == 0 and en.degenerate_share.estimate == 0.0
    # No reference in sw: no chrF, and the figure says so.
    assert result.group("sw/t").quality.chrf.estimate is None


def test_per_prompt_columns(result):
    prompts = result.prompts
    for column in ("distinct_2", "loop_length", "compression_ratio", "degenerate", "chrf"):
        assert column in prompts.columns
    sw = prompts[prompts["language"] == "sw"].set_index("id")
    assert sw.loc["sw-0", "degenerate"] and not sw.loc["sw-5", "degenerate"]
    assert sw.loc["sw-0", "loop_length"] == 15  # 3 steps of 4 accepted + 1 emitted
    en = prompts[prompts["language"] == "en"].set_index("id")
    assert np.isnan(en.loc["en-1", "chrf"]) and en.loc["en-0", "chrf"] > 0


def test_tokens_per_second_beside_characters(result):
    en = result.group("en/t")
    tokens = 10 * 9  # 3 steps of 2 accepted + 1
    assert en.tokens_per_s_plain.estimate == pytest.approx(tokens / (10 * 2.0))
    assert en.tokens_per_s_spec.estimate == pytest.approx(tokens / (10 * 1.0))


def test_quality_round_trips_and_old_results_still_read(result, tmp_path):
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert MetricsResult.from_dict(data) == result
    for group in data["groups"]:
        del group["quality"], group["tokens_per_s_plain"], group["tokens_per_s_spec"]
    old = MetricsResult.from_dict(data)
    assert old.group("sw/t").quality is None
    assert old.group("sw/t").tokens_per_s_plain.estimate is None
    result.write(tmp_path)
    groups = MetricsResult.read(tmp_path).groups_frame()
    assert {"degenerate_share", "chrf_ci_low", "speedup_non_degenerate"} <= set(groups.columns)


def test_quality_leaves_other_figures_unchanged():
    # Quality is computed last from the same generator: the other figures must
    # not depend on whether the outputs are degenerate.
    records = _records()
    plain = [dict(r, output_ids=list(range(len(r["output_ids"])))) for r in records]
    a = compute_metrics(records, n_boot=200, seed=3)
    b = compute_metrics(plain, n_boot=200, seed=3)
    assert a.group("sw/t").speedup == b.group("sw/t").speedup
    assert a.disparity == b.disparity
    assert a.group("sw/t").quality != b.group("sw/t").quality
