"""The shipped prompt sets: schema, sizes, and splits that share no English source."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict

import pytest

from specaudit.languages import BUILTIN_LANGUAGES, TASKS, translation_prompt

from .conftest import PROMPT_FILES, PROMPTS

MIN_PROMPTS = 60  # eval and heldout, per (language, task)
MIN_TRAIN_PAIRS = 1000  # translation train, per language
BASE_KEYS = ["id", "language", "task", "split", "prompt", "item_id"]
STORY_KEYS = [*BASE_KEYS, "source"]
TRANSLATION_KEYS = [*BASE_KEYS, "source", "source_language", "reference"]


def english_key(row: dict) -> str:
    """The normalised English side of a translation row (as the data build folds it)."""
    text = row["reference"] if row["language"] == "en" else row["source"]
    text = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).casefold()).strip()
    return text.rstrip(".:!?…;, ").strip()


def test_all_prompt_files_exist():
    missing = [name for name in PROMPT_FILES.values() if not (PROMPTS / name).exists()]
    assert not missing


def test_row_schema(prompt_sets):
    for (task, split), rows in prompt_sets.items():
        for row in rows:
            keys = TRANSLATION_KEYS if task == "translation" else STORY_KEYS
            assert list(row) == keys, row["id"]
            assert row["task"] == task and row["split"] == split, row["id"]
            assert row["language"] in BUILTIN_LANGUAGES and row["task"] in TASKS
            assert row["id"].startswith(f"{task}-{row['language']}-{split}-")
            assert isinstance(row["prompt"], str) and row["prompt"].strip() == row["prompt"]
            assert row["prompt"]
            assert row["item_id"] is None or (isinstance(row["item_id"], str) and row["item_id"])
            if task == "translation":
                assert row["source_language"] in BUILTIN_LANGUAGES
                assert row["source_language"] != row["language"]
                if row["language"] != "en":
                    assert row["source_language"] == "en"
                assert row["reference"] and row["source"] and "\n" not in row["source"]
                assert row["prompt"] == translation_prompt(
                    row["source"],
                    source_language=row["source_language"],
                    target_language=row["language"],
                )


def test_ids_unique_across_all_files(prompt_sets):
    ids = Counter(row["id"] for rows in prompt_sets.values() for row in rows)
    assert not [i for i, n in ids.items() if n > 1]


def test_rows_sorted_and_numbered(prompt_sets):
    for rows in prompt_sets.values():
        numbers = defaultdict(list)
        for row in rows:
            numbers[row["language"]].append(int(row["id"].rsplit("-", 1)[1]))
        for got in numbers.values():
            assert got == list(range(1, len(got) + 1))


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("split", ["eval", "heldout"])
def test_minimum_prompts_per_language(prompt_sets, task, split):
    counts = Counter(row["language"] for row in prompt_sets[(task, split)])
    short = {lang: counts[lang] for lang in BUILTIN_LANGUAGES if counts[lang] < MIN_PROMPTS}
    assert not short


def test_translation_eval_and_heldout_have_100_each(prompt_sets):
    for split in ("eval", "heldout"):
        counts = Counter(row["language"] for row in prompt_sets[("translation", split)])
        assert all(counts[lang] == 100 for lang in BUILTIN_LANGUAGES), counts


def test_minimum_translation_train_pairs(prompt_sets):
    counts = Counter(row["language"] for row in prompt_sets[("translation", "train")])
    assert all(counts[lang] >= MIN_TRAIN_PAIRS for lang in BUILTIN_LANGUAGES), counts


def test_english_sources_belong_to_one_split(prompt_sets):
    keys = {
        split: {english_key(row) for row in prompt_sets[("translation", split)]}
        for split in ("eval", "heldout", "train")
    }
    assert not keys["eval"] & keys["heldout"]
    assert not keys["eval"] & keys["train"]
    assert not keys["heldout"] & keys["train"]


def test_eval_heldout_references_not_in_train_pairs(prompt_sets):
    train = prompt_sets[("translation", "train")]
    train_strings = {(r["language"], r["reference"]) for r in train}
    train_strings |= {(r["source_language"], r["source"]) for r in train}
    for split in ("eval", "heldout"):
        for row in prompt_sets[("translation", split)]:
            assert (row["language"], row["reference"]) not in train_strings, row["id"]
            assert (row["source_language"], row["source"]) not in train_strings, row["id"]


def test_english_translation_sources_drawn_evenly(prompt_sets):
    others = [lang for lang in BUILTIN_LANGUAGES if lang != "en"]
    for split in ("eval", "heldout"):
        rows = [r for r in prompt_sets[("translation", split)] if r["language"] == "en"]
        counts = Counter(r["source_language"] for r in rows)
        assert sorted(counts) == sorted(others)
        assert max(counts.values()) - min(counts.values()) <= 1


def test_eval_prompts_are_sentences_of_4_to_40_words(prompt_sets):
    for split in ("eval", "heldout"):
        for row in prompt_sets[("translation", split)]:
            english = row["reference"] if row["language"] == "en" else row["source"]
            assert 4 <= len(english.split()) <= 40, row["id"]


def test_translation_items_are_parallel(prompt_sets):
    for split in ("eval", "heldout"):
        rows = prompt_sets[("translation", split)]
        by_item = defaultdict(set)
        for row in rows:
            if row["item_id"] is not None:
                by_item[row["item_id"]].add(english_key(row))
        assert by_item, "expected parallel items"
        assert all(len(keys) == 1 for keys in by_item.values())
        assert sum(r["item_id"] is not None for r in rows) >= len(rows) // 2


def test_story_items_parallel_across_all_languages(prompt_sets):
    for split in ("eval", "heldout"):
        by_item = defaultdict(set)
        for row in prompt_sets[("story", split)]:
            by_item[row["item_id"]].add(row["language"])
        assert by_item
        assert all(langs == set(BUILTIN_LANGUAGES) for langs in by_item.values())
    eval_items = {r["item_id"] for r in prompt_sets[("story", "eval")]}
    heldout_items = {r["item_id"] for r in prompt_sets[("story", "heldout")]}
    assert not eval_items & heldout_items


def test_story_prompts_are_cut_premises(prompt_sets):
    for split in ("eval", "heldout"):
        for row in prompt_sets[("story", split)]:
            assert row["source"].startswith(row["prompt"]), row["id"]
            assert len(row["prompt"]) < len(row["source"]), row["id"]
            assert row["prompt"][-1] not in ".!?。।؟,、，", row["id"]  # ends mid-sentence
