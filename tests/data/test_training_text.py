"""Shipped training text: no leaks from prompts or stories, disjoint heldout, size budget."""

from __future__ import annotations

import pytest

from specaudit.languages import BUILTIN_LANGUAGES

from .conftest import DATA, PROMPTS, TEXT

BUDGET_BYTES = 15_000_000  # everything under data/prompts and data/text
MAX_FILE_BYTES = 8_000_000
MIN_TRAIN_CHARS = 20_000  # sw is the smallest language by far


def test_text_files_exist_and_are_not_empty(train_text, heldout_text):
    for lang in BUILTIN_LANGUAGES:
        assert len(train_text[lang]) >= MIN_TRAIN_CHARS, lang
        assert 5_000 <= len(heldout_text[lang]) <= 70_000, lang
        assert len(train_text[lang]) <= 2_100_000, lang


def test_paragraphs_separated_by_blank_lines(train_text):
    for lang, text in train_text.items():
        assert text.endswith("\n") and not text.endswith("\n\n\n"), lang
        assert "\n\n\n" not in text, lang


def test_heldout_text_disjoint_from_train(train_text, heldout_text):
    for lang in BUILTIN_LANGUAGES:
        train = set(train_text[lang].split("\n\n"))
        heldout = set(heldout_text[lang].split("\n\n"))
        assert not train & heldout, lang


def _prompt_strings(prompt_sets, lang: str) -> set[str]:
    """Every eval/heldout translation source and reference written in ``lang``."""
    out = set()
    for split in ("eval", "heldout"):
        for row in prompt_sets[("translation", split)]:
            if row["language"] == lang:
                out.add(row["reference"])
            if row["source_language"] == lang:
                out.add(row["source"])
    return out


@pytest.mark.parametrize("lang", BUILTIN_LANGUAGES)
def test_eval_heldout_translation_strings_absent_from_train_text(prompt_sets, train_text, lang):
    text = train_text[lang]
    leaked = [s for s in _prompt_strings(prompt_sets, lang) if s in text]
    assert not leaked


def test_english_train_text_has_no_english_prompt_sources(prompt_sets, train_text):
    english = set()
    for split in ("eval", "heldout"):
        for row in prompt_sets[("translation", split)]:
            english.add(row["reference"] if row["language"] == "en" else row["source"])
    assert len(english) >= 200
    assert not [s for s in english if s in train_text["en"]]


@pytest.mark.parametrize("lang", BUILTIN_LANGUAGES)
def test_story_text_absent_from_training_files(prompt_sets, train_text, lang):
    stories = [
        row["prompt"]
        for split in ("eval", "heldout")
        for row in prompt_sets[("story", split)]
        if row["language"] == lang
    ]
    assert stories, "story prompts missing"
    openings = {s for s in stories} | {s[:40] for s in stories}
    train_pairs = [
        r["source"] + "\n" + r["reference"]
        for r in prompt_sets[("translation", "train")]
        if lang in (r["language"], r["source_language"])
    ]
    pair_text = "\n".join(train_pairs)
    assert not [s for s in openings if s in train_text[lang] or s in pair_text]


def test_gzip_files_carry_no_timestamp():
    for path in sorted(PROMPTS.glob("*.gz")) + sorted(TEXT.glob("*.gz")):
        header = path.read_bytes()[:10]
        assert header[:2] == b"\x1f\x8b" and header[4:8] == b"\0\0\0\0", path.name
        assert not header[3] & 0x08, f"{path.name} stores a file name"


def test_shipped_data_within_size_budget():
    files = [p for folder in (PROMPTS, TEXT) for p in folder.rglob("*") if p.is_file()]
    assert files
    assert sum(p.stat().st_size for p in files) < BUDGET_BYTES
    assert max(p.stat().st_size for p in files) < MAX_FILE_BYTES
    assert DATA.is_dir()
