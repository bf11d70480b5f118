"""Reading records.jsonl and tabulating steps and prompts."""

from __future__ import annotations

import json

import pytest
from record_builders import record, step

from specaudit.metrics import compute_metrics, load_records, prompt_frame, step_frame


def _write(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_load_records_skips_blank_lines(tmp_path):
    rec = record([step(2, 1)])
    path = _write(tmp_path / "records.jsonl", [json.dumps(rec), "", json.dumps(rec | {"id": "p1"})])
    assert [r["id"] for r in load_records(path)] == ["p0", "p1"]


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ("{not json", "line 2: malformed JSON"),
        ("[1, 2]", "line 2: expected a JSON object"),
        (json.dumps(record([]) | {"record_version": 9}), "line 2: record_version 9"),
        (json.dumps({k: v for k, v in record([]).items() if k != "steps"}), "line 2: record lacks"),
        (json.dumps(record([]) | {"steps": [{"drafted": 1}]}), "line 2: step 0 lacks fields"),
    ],
)
def test_load_records_names_the_bad_line(tmp_path, bad_line, message):
    path = _write(tmp_path / "records.jsonl", [json.dumps(record([step(1, 1)])), bad_line])
    with pytest.raises(ValueError, match=message):
        load_records(path)


def test_inconsistent_step_is_rejected():
    bad = step(2, 1)
    bad["alpha"] = [0.5]  # two verified positions, one alpha
    with pytest.raises(ValueError, match="inconsistent step"):
        step_frame([record([bad], id="x")])
    bad = step(2, 1)
    bad["accepted"] = 3
    with pytest.raises(ValueError, match="'x', step 0"):
        step_frame([record([bad], id="x")])


def test_step_and_prompt_frames():
    records = [record([step(4, 2), step(0, 0), step(3, 3)], id="a"), record([step(1, 0)], id="b")]
    steps = step_frame(records)
    assert steps["verified"].tolist() == [3, 0, 3, 1]
    assert steps["emitted"].tolist() == [3, 1, 4, 1]
    prompts = prompt_frame(records, steps=steps, gamma=4)
    a = prompts.iloc[0]
    assert (a["n_steps"], a["accepted"], a["rejections"], a["drafted"]) == (3, 5, 1, 7)
    assert [a[f"pos_verified_{i}"] for i in range(1, 5)] == [2, 2, 2, 0]
    assert [a[f"pos_accepted_{i}"] for i in range(1, 5)] == [2, 2, 1, 0]
    assert prompts["group"].tolist() == ["en/t", "en/t"]
    assert prompts.iloc[1]["speedup"] == 2.0


def test_duplicate_ids_and_empty_records_are_rejected():
    rec = record([step(1, 1)])
    with pytest.raises(ValueError, match="duplicate prompt id 'p0'"):
        compute_metrics([rec, rec])
    with pytest.raises(ValueError, match="records is empty"):
        compute_metrics([])
    with pytest.raises(ValueError, match=r"records\[0\] \(id 'p0'\): record_version"):
        compute_metrics([rec | {"record_version": 3}])
