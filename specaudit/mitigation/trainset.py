"""Training prompts per language, from ``train`` splits only.

Each language (a training *group*) gets two kinds of prompts:

``translation``
    Rows of the prompt sets whose ``split`` is ``train`` (the built-in
    ``translation.train`` set by default), in the audit's own template.
``text``
    Paragraphs of the shipped monolingual ``train`` text, cut mid-sentence
    like the story prompts (:func:`specaudit.languages.story_opening`), so the
    target continues running text.

The story task is never trained on: it is the held-out task of every
follow-up audit. The first ``n_probe`` prompts of each kind (after a seeded
shuffle) are held back as the probe set that tracks per-group cross-entropy
and U during training; the audit's ``heldout`` prompts are never seen.
"""

from __future__ import annotations

import gzip
import random
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from specaudit.audit.prompts import Prompt, builtin_prompt_dir, load_prompts
from specaudit.errors import UserInputError
from specaudit.languages import story_opening

__all__ = ["KINDS", "TrainingPrompts", "builtin_text_path", "read_paragraphs", "training_prompts"]

KINDS: tuple[str, ...] = ("translation", "text")

#: Paragraphs shorter than this (in characters) make openings too short to
#: continue; CJK scripts carry about three times more per character.
_MIN_CHARS = {"zh": 24, "ja": 24}
_MIN_CHARS_DEFAULT = 80


@dataclass(frozen=True)
class TrainingPrompts:
    """The prompts of one language, split into training and probe rows."""

    language: str
    train: tuple[Prompt, ...]
    probe: tuple[Prompt, ...]


def builtin_text_path(language: str, split: str = "train") -> Path:
    """Path of the shipped monolingual text of ``language``."""
    return Path(str(resources.files("specaudit") / "data" / "text" / f"{language}.{split}.txt.gz"))


def read_paragraphs(path: Path) -> list[str]:
    """Blank-line separated paragraphs of a (gzipped) text file."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [p.strip() for p in fh.read().split("\n\n") if p.strip()]


def _text_prompts(language: str) -> list[Prompt]:
    path = builtin_text_path(language)
    if not path.is_file():
        return []
    floor = _MIN_CHARS.get(language, _MIN_CHARS_DEFAULT)
    out = []
    for i, paragraph in enumerate(read_paragraphs(path)):
        if len(paragraph) < floor:
            continue
        opening = story_opening(paragraph, language)
        if opening:
            out.append(
                Prompt(
                    id=f"text-{language}-train-{i:06d}",
                    language=language,
                    task="text",
                    prompt=opening,
                    split="train",
                )
            )
    return out


def training_prompts(
    languages: Sequence[str],
    *,
    kinds: Sequence[str] = KINDS,
    sources: Sequence[str | Path] = (),
    n_train: int,
    n_probe: int,
    seed: int,
) -> list[TrainingPrompts]:
    """Seeded training and probe prompts for every language.

    Parameters
    ----------
    languages : sequence of str
        The training groups.
    kinds : sequence of str
        Which of :data:`KINDS` to draw (``("translation",)`` for the
        task-specific strategy).
    sources : sequence of path
        Prompt files or directories; their ``train`` rows are the translation
        prompts. Empty: the built-in sets.
    n_train, n_probe : int
        Prompts per language and kind for training and for the probe set.
    seed : int
        Shuffle seed; the probe rows are the first ``n_probe`` after it, so
        they do not move when ``n_train`` changes.

    Raises
    ------
    UserInputError
        When a language has no training prompts of a requested kind.
    """
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise UserInputError(f"unknown training data kind(s) {sorted(unknown)}; use {KINDS}")
    rows = []
    if "translation" in kinds:
        rows = [
            p for p in load_prompts(list(sources) or [builtin_prompt_dir()]) if p.split == "train"
        ]
    out = []
    for language in languages:
        train, probe = [], []
        for kind in kinds:
            pool = (
                [p for p in rows if p.language == language]
                if kind == "translation"
                else _text_prompts(language)
            )
            if len(pool) <= n_probe:
                raise UserInputError(
                    f"language {language!r} has {len(pool)} {kind} training prompts, fewer than "
                    f'{n_probe + 1}; add rows with split "train" or drop the language'
                )
            random.Random(f"{seed}/{language}/{kind}").shuffle(pool)
            probe += pool[:n_probe]
            train += pool[n_probe : n_probe + n_train]
        out.append(TrainingPrompts(language, tuple(train), tuple(probe)))
    return out
