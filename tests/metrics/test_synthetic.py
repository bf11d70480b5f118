"""The synthetic record generator: valid records and a correct truth."""

from __future__ import annotations

import pytest

from specaudit.metrics import compute_metrics
from specaudit.metrics.synthetic import GroupSpec, synthetic_records, true_figures
from specaudit.records import PromptRecord


def test_records_follow_the_record_format():
    specs = [GroupSpec("en", n_prompts=3, short_draft_prob=0.5), GroupSpec("sw", n_prompts=2)]
    for rec in synthetic_records(specs, parallel=False):
        parsed = PromptRecord.from_dict(rec)
        assert len(parsed.output_ids) == sum(s.emitted for s in parsed.steps)
        assert parsed.spec_time_s == pytest.approx(
            parsed.prefill_time_s + sum(s.draft_time_s + s.verify_time_s for s in parsed.steps)
        )
        assert parsed.item_id is None


def test_truth_matches_a_large_sample():
    spec = GroupSpec("en", alpha=0.6, alpha_spread=0.2, n_prompts=600, short_draft_prob=0.3)
    truth = true_figures(spec)
    g = compute_metrics(synthetic_records([spec], seed=4), n_boot=100).group("en/translation")
    assert g.acceptance_rate.estimate == pytest.approx(truth["acceptance_rate"], abs=0.01)
    assert g.speedup.estimate == pytest.approx(truth["speedup"], rel=0.02)
