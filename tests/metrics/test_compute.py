"""compute_metrics: argument checks, determinism, runtime."""

from __future__ import annotations

import json
import random
import time

import pytest
from record_builders import group, step

from specaudit.metrics import compute_metrics, load_records
from specaudit.metrics.synthetic import GroupSpec, synthetic_records

RECORDS = group([step(4, 2)], 3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reference_language": ""}, "reference_language=''"),
        ({"reference": "en"}, "reference='en' is not allowed"),
        ({"reference": "sw/t"}, r"reference='sw/t' is not a group.*groups: en/t"),
        ({"n_boot": 10}, "n_boot=10 is not allowed: expected an integer >= 100"),
        ({"n_boot": 100.0}, "n_boot=100.0"),
        ({"seed": -1}, "seed=-1"),
        ({"min_prompts": 1}, "min_prompts=1"),
        (
            {"confidence_level": 1.0},
            r"confidence_level=1.0 is not allowed: expected a number in \(0, 1\)",
        ),
        ({"gamma": 0}, "gamma=0"),
        ({"gamma": 3}, "gamma=3 is not allowed: the records hold drafts of 4 tokens"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        compute_metrics(RECORDS, **kwargs)


def test_gamma_cannot_be_inferred_without_drafts():
    with pytest.raises(ValueError, match="no step drafted any token; pass gamma"):
        compute_metrics(group([step(0, 0)], 3))


def test_explicit_gamma_adds_unseen_positions():
    g = compute_metrics(RECORDS, gamma=6, min_prompts=2, n_boot=100).group("en/t")
    assert len(g.position_acceptance) == 6
    assert g.position_acceptance[5].estimate is None


def _audit(seed=0):
    specs = [GroupSpec(lang, n_prompts=15, alpha=a) for lang, a in [("en", 0.7), ("sw", 0.5)]]
    return synthetic_records(specs, seed=seed)


def test_same_seed_same_numbers_whatever_the_record_order():
    records = _audit()
    first = compute_metrics(records, n_boot=300, seed=5)
    shuffled = list(records)
    random.Random(1).shuffle(shuffled)
    second = compute_metrics(shuffled, n_boot=300, seed=5)
    assert first == second
    assert first.to_dict() == second.to_dict()
    third = compute_metrics(records, n_boot=300, seed=6)
    assert third.group("sw/translation").speedup != first.group("sw/translation").speedup


def test_recomputation_from_records_jsonl_is_identical(tmp_path):
    records = _audit()
    path = tmp_path / "records.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    assert compute_metrics(load_records(path), n_boot=300) == compute_metrics(records, n_boot=300)


def test_groups_are_sorted_by_task_then_language():
    specs = [GroupSpec(lang, task, n_prompts=3) for task in ("b", "a") for lang in ("sw", "en")]
    result = compute_metrics(synthetic_records(specs, seed=0), n_boot=100)
    assert [g.group for g in result.groups] == ["en/a", "sw/a", "en/b", "sw/b"]
    assert all(g.status == "insufficient data" for g in result.groups)
    assert result.disparity.unfairness_u.estimate is None


def test_runtime_of_a_realistic_audit():
    # The default audit: 11 languages x 2 tasks, 20 prompts each, n_boot = 2000.
    languages = ["en", "de", "fr", "es", "ru", "zh", "ja", "ar", "hi", "ko", "sw"]
    specs = [
        GroupSpec(lang, task, alpha=0.4 + 0.04 * i, alpha_spread=0.1, n_prompts=20)
        for task in ("translation", "story")
        for i, lang in enumerate(languages)
    ]
    records = synthetic_records(specs, seed=0)
    start = time.perf_counter()
    result = compute_metrics(records)
    elapsed = time.perf_counter() - start
    assert len(result.groups) == 22 and len(result.disparity.contrasts) == 20
    assert elapsed < 30, f"compute_metrics took {elapsed:.1f} s"


def test_missing_reference_language_gives_no_contrasts_and_a_note():
    records = group([step(drafted=2, accepted=1)], 3, language="sw")
    result = compute_metrics(records, n_boot=100, min_prompts=2)
    assert result.disparity.contrasts == ()
    assert any("reference language 'en' is not in the records" in n for n in result.notes)
