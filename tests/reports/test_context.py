import pandas as pd
import pytest

from specaudit.metrics import Estimate, MetricsResult
from specaudit.metrics.synthetic import GroupSpec
from specaudit.reports import build_context, load_run
from specaudit.reports.examples import clean_text, pick_rows, select_examples
from specaudit.reports.status import change_badge, contrast_badge, lossless_badge, speedup_badge
from tests.reports.builders import HOSTILE, make_run


@pytest.fixture(scope="module")
def slow_run(tmp_path_factory):
    """Swahili drafts are rarely accepted and costly: clearly slower than plain decoding."""
    specs = [
        GroupSpec("en", "story", alpha=0.85, n_prompts=12),
        GroupSpec("sw", "story", alpha=0.15, n_prompts=12, draft_forward_s=0.01),
    ]
    return make_run(tmp_path_factory.mktemp("slow") / "run", specs)


def test_prompts_csv_carries_prompt_output_and_lossless(default_run):
    prompts = MetricsResult.read(default_run).prompts
    assert {"prompt", "output_text", "lossless"} <= set(prompts.columns)
    assert list(prompts.columns[-3:]) == ["prompt", "output_text", "reference"]
    # Hostile and right-to-left text survives the CSV round trip unchanged.
    texts = set(prompts["prompt"])
    for hostile in HOSTILE:
        assert any(t.startswith(hostile) for t in texts)


def test_verdict_counts_groups_slower_than_plain(slow_run):
    ctx = build_context(load_run(slow_run))
    assert [key for key, _, badge in ctx.verdict.slower] == ["sw/story"]
    assert ctx.verdict.slower[0][2].label == "▼ slower"
    card = next(c for c in ctx.verdict.cards if c.label == "Slower than plain decoding")
    assert card.value == "1 of 2 groups"
    worst = next(c for c in ctx.verdict.cards if c.label == "Worst served")
    assert worst.value == "Swahili" and "sw/story" in worst.detail
    gap = next(c for c in ctx.verdict.cards if c.label == "Gap to reference")
    assert "en/story" in gap.detail
    rows = {g.key: g for g in ctx.groups}
    assert rows["en/story"].is_reference and not rows["sw/story"].is_reference
    assert ctx.contrasts[0].ratio_badge.word in {"below reference", "no clear difference"}


def test_status_badges_always_have_a_word_and_a_symbol():
    assert speedup_badge(Estimate(1.3, 1.1, 1.5)).label == "▲ faster"
    assert speedup_badge(Estimate(0.8, 0.7, 0.9)).label == "▼ slower"
    assert speedup_badge(Estimate(1.0, 0.9, 1.1)).label == "◆ unclear"
    assert speedup_badge(Estimate(1.0, None, None, "insufficient data")).label == "○ no interval"
    assert contrast_badge(0.5, 0.7, 0.001, null=1.0, alpha=0.05).label == "▼ below reference"
    # The interval excludes 1 but the multiplicity-adjusted p does not: no claim.
    assert contrast_badge(0.5, 0.7, 0.2, null=1.0, alpha=0.05).word == "no clear difference"
    assert change_badge(1.1, 1.2, null=1.0).label == "▲ better"
    assert change_badge(1.1, 1.2, null=1.0, p_adjusted=0.3, alpha=0.05).word == "no clear change"
    assert lossless_badge(False).label == "✗ NOT lossless"
    assert lossless_badge(None).word == "not checked"


def test_examples_span_slowest_median_fastest_and_cut_long_text():
    frame = pd.DataFrame(
        {
            "id": [f"p{i}" for i in range(5)],
            "group": "en/story",
            "speedup": [1.5, 0.5, 1.0, 2.0, float("nan")],
            "acceptance_rate": 0.5,
            "lossless": True,
            "prompt": ["x" * 5000, "a\x00b", None, "ok", "no speed-up"],
            "output_text": "out",
        }
    )
    assert [why for _, why in pick_rows(frame, 3)] == ["slowest", "median", "fastest"]
    assert pick_rows(frame.assign(speedup=float("nan")), 2) == [(0, "example"), (1, "example")]
    (group,) = select_examples(frame, per_group=3)
    assert [e.id for e in group.examples] == ["p1", "p0", "p3"]  # p4 has no speed-up
    assert group.examples[0].prompt == "a\ufffdb"  # control characters are not valid HTML
    assert clean_text("x" * 5000)[1] is True and len(clean_text("x" * 5000)[0]) < 1300
    assert clean_text(float("nan")) == ("", False)
