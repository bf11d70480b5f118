"""PromptRecord: the optional ``reference`` field and reading older lines."""

from __future__ import annotations

import json

import pytest

from specaudit.records import PromptRecord, StepRecord


def _record(**overrides) -> PromptRecord:
    values = dict(
        id="translation-sw-1",
        language="sw",
        task="translation",
        item_id="tr-1",
        split="eval",
        prompt="Translate: hello",
        prompt_ids=[1, 2],
        output_ids=[3, 4],
        output_text=" habari",
        stop_reason="eos",
        steps=[StepRecord(1, 1, False, 2, 0.001, 0.01, [True], [0.9], [0.1], [0.05])],
        prefill_time_s=0.01,
        spec_time_s=0.05,
        baseline_output_ids=[3, 4],
        baseline_time_s=0.07,
        baseline_prefill_time_s=0.01,
        lossless=True,
        draft_forward_s=0.001,
        target_forward_s=0.01,
        c=0.1,
        n_draft_forwards=1,
        forward_time_s=0.04,
        output_chars=7,
        prompt_chars=16,
        seed=5,
    )
    values.update(overrides)
    return PromptRecord(**values)


def test_reference_round_trips():
    record = _record(reference="habari")
    again = PromptRecord.from_dict(json.loads(record.to_json()))
    assert again.reference == "habari"
    assert again == record


def test_line_without_reference_reads_as_none():
    data = json.loads(_record(reference="habari").to_json())
    del data["reference"]
    assert PromptRecord.from_dict(data).reference is None


def test_required_field_still_required():
    data = json.loads(_record().to_json())
    del data["output_text"]
    with pytest.raises(ValueError, match="output_text"):
        PromptRecord.from_dict(data)
