"""Fixtures of the mitigation tests: a prompt set with train and held-out splits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

TEXTS = {
    "en": ["the cat sat", "the dog sat on", "on the mat", "the log", "and the dog"],
    "sw": ["mbwa anakula", "paka analala", "jikoni na paka", "na mbwa", "paka na"],
}


@pytest.fixture(scope="module")
def split_prompts(tmp_path_factory) -> Path:
    """Train rows for training, heldout rows (both tasks) for the follow-up audits."""
    rows = []
    for lang, texts in TEXTS.items():
        for i, text in enumerate(texts):
            rows.append(
                {
                    "id": f"tr-{lang}-{i}",
                    "language": lang,
                    "task": "translation",
                    "prompt": text,
                    "split": "train",
                }
            )
        for task in ("translation", "story"):
            for i, text in enumerate(texts[:2]):
                rows.append(
                    {
                        "id": f"{task}-{lang}-h{i}",
                        "language": lang,
                        "task": task,
                        "prompt": text,
                        "item_id": f"{task}-{i}",
                        "split": "heldout",
                    }
                )
    path = tmp_path_factory.mktemp("prompts") / "prompts.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path
