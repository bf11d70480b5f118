"""Fixtures that load the shipped prompt sets and training text once per session."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

import specaudit
from specaudit.languages import BUILTIN_LANGUAGES

DATA = Path(specaudit.__file__).resolve().parent / "data"
PROMPTS = DATA / "prompts"
TEXT = DATA / "text"
PROMPT_FILES = {
    ("translation", "eval"): "translation.eval.jsonl",
    ("translation", "heldout"): "translation.heldout.jsonl",
    ("translation", "train"): "translation.train.jsonl.gz",
    ("story", "eval"): "story.eval.jsonl",
    ("story", "heldout"): "story.heldout.jsonl",
}


def read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


@pytest.fixture(scope="session")
def prompt_sets() -> dict[tuple[str, str], list[dict]]:
    """(task, split) → rows of the shipped file (empty if the file is missing)."""
    out = {}
    for key, name in PROMPT_FILES.items():
        path = PROMPTS / name
        out[key] = read_jsonl(path) if path.exists() else []
    return out


@pytest.fixture(scope="session")
def train_text() -> dict[str, str]:
    """Language → its monolingual train text."""
    return {
        lang: gzip.decompress((TEXT / f"{lang}.train.txt.gz").read_bytes()).decode("utf-8")
        for lang in BUILTIN_LANGUAGES
    }


@pytest.fixture(scope="session")
def heldout_text() -> dict[str, str]:
    """Language → its monolingual heldout text."""
    return {
        lang: gzip.decompress((TEXT / f"{lang}.heldout.txt.gz").read_bytes()).decode("utf-8")
        for lang in BUILTIN_LANGUAGES
    }
