"""Split assignment of English sources, and the prompt-set rows.

Every normalised English source (``Pair.key``) belongs to exactly one split,
across all languages. Eval and heldout sources are chosen greedily in a fixed
order — real sentences first, then sources translated into more languages (so
items are parallel), then a stable hash of the key — until each language has
its quota; every other source is train.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from specaudit.languages import BUILTIN_LANGUAGES, story_opening, translation_prompt

from .parallel import Pair
from .textnorm import stable_hash, word_count

__all__ = ["SplitPlan", "plan_splits", "story_rows", "translation_rows"]

PROMPT_SPLITS = ("eval", "heldout")
SPLIT_ORDER = {"eval": 0, "heldout": 1, "train": 2}


@dataclass
class SplitPlan:
    """Which English keys went where, and the pairs chosen for each (language, split)."""

    split_of: dict[str, str] = field(default_factory=dict)  # key -> split (eval/heldout only)
    chosen: dict[tuple[str, str], list[Pair]] = field(default_factory=dict)  # (lang, split)


def _order(pair: Pair, coverage: int) -> tuple:
    return (not pair.sentence, -coverage, stable_hash(pair.key), pair.key)


def plan_splits(
    pairs: dict[str, list[Pair]], *, quota: int, train_cap: int, en_train_cap: int
) -> SplitPlan:
    """Assign eval/heldout keys up to ``quota`` per language; fill train up to the caps.

    Parameters
    ----------
    pairs : dict
        Language (≠ en) → its pairs, as from ``collect_pairs``.
    quota : int
        Eval and heldout prompts per language and split (also for en).
    train_cap : int
        Most train pairs per language ≠ en.
    en_train_cap : int
        Most train pairs into English, drawn evenly from the ten other languages.
    """
    langs = list(pairs)
    by_key: dict[str, dict[str, Pair]] = defaultdict(dict)
    for lang, plist in pairs.items():
        for pair in plist:
            by_key[pair.key][lang] = pair
    plan = SplitPlan()
    counts = {(lang, split): 0 for lang in langs for split in PROMPT_SPLITS}
    chosen: dict[tuple[str, str], list[Pair]] = defaultdict(list)

    # 1. eval / heldout: greedy over promptable keys in preference order.
    candidates = []
    for key, per_lang in by_key.items():
        usable = {lang: p for lang, p in per_lang.items() if p.promptable}
        if usable:
            first = next(iter(usable.values()))
            candidates.append((_order(first, len(usable)), key, usable))
    for _, key, usable in sorted(candidates, key=lambda c: c[0]):
        need = {
            split: [lang for lang in usable if counts[(lang, split)] < quota]
            for split in PROMPT_SPLITS
        }
        if not need["eval"] and not need["heldout"]:
            continue
        # The split that needs this key more; ties go by the key's hash.
        split = max(
            PROMPT_SPLITS, key=lambda s: (len(need[s]), (stable_hash(key) & 1) == (s == "eval"))
        )
        plan.split_of[key] = split
        for lang in need[split]:
            chosen[(lang, split)].append(usable[lang])
            counts[(lang, split)] += 1

    # 2. English target: for each split, sources drawn evenly from the other languages,
    #    reusing that split's keys (so the English rows are parallel to the others).
    per_source = quota // len(langs)
    for split in PROMPT_SPLITS:
        used: set[str] = set()
        for lang in langs:
            picks = [p for p in chosen[(lang, split)] if p.key not in used][:per_source]
            used.update(p.key for p in picks)
            chosen[("en", split)].extend(picks)

    # 3. train: every key not in eval/heldout; prompt-quality pairs first, then by hash.
    held_refs = {lang: set() for lang in langs}
    for key in plan.split_of:
        for lang, pair in by_key[key].items():
            held_refs[lang].add(pair.native)
    used_en: set[str] = set()
    for lang in langs:
        train = [
            p
            for p in pairs[lang]
            if p.key not in plan.split_of
            and word_count(p.english) >= 2
            and p.native not in held_refs[lang]
        ]
        train.sort(key=lambda p: (not p.promptable, stable_hash(p.key), p.key))
        chosen[(lang, "train")] = train[:train_cap]
        picks = [p for p in train if p.key not in used_en][: en_train_cap // len(langs)]
        used_en.update(p.key for p in picks)
        chosen[("en", "train")].extend(picks)
    plan.chosen = dict(chosen)
    return plan


def _item_ids(rows_by_split: dict[str, list[tuple[str, Pair]]]) -> dict[tuple[str, str], str]:
    """``tr-<hash>`` for keys used by at least two rows of a split."""
    ids = {}
    for split, rows in rows_by_split.items():
        seen: dict[str, int] = defaultdict(int)
        for _, pair in rows:
            seen[pair.key] += 1
        for key, n in seen.items():
            if n >= 2:
                ids[(split, key)] = f"tr-{stable_hash(key):016x}"
    return ids


def _row_order(entry: tuple[str, Pair], lang_rank: dict[str, int], by_source: bool) -> tuple:
    """Eval/heldout rows are grouped by language. Train rows are ordered by source, so
    parallel rows sit side by side (shuffled for training, and gzip shares the source)."""
    lang, pair = entry
    source = (stable_hash(pair.key), pair.key)
    return (*source, lang_rank[lang]) if by_source else (lang_rank[lang], *source)


def translation_rows(plan: SplitPlan) -> dict[str, list[dict]]:
    """Rows of every translation split in a fixed order (see below), numbered per language."""
    rows_by_split: dict[str, list[tuple[str, Pair]]] = defaultdict(list)
    for (lang, split), plist in plan.chosen.items():
        rows_by_split[split].extend((lang, p) for p in plist)
    item_ids = _item_ids(rows_by_split)
    lang_rank = {lang: i for i, lang in enumerate(BUILTIN_LANGUAGES)}
    out: dict[str, list[dict]] = {}
    for split in sorted(rows_by_split, key=SPLIT_ORDER.get):
        by_source = split == "train"
        entries = sorted(rows_by_split[split], key=lambda e: _row_order(e, lang_rank, by_source))
        rows, number = [], defaultdict(int)
        for lang, pair in entries:
            number[lang] += 1
            if lang == "en":
                source, source_lang, reference = pair.native, pair.language, pair.english
            else:
                source, source_lang, reference = pair.english, "en", pair.native
            rows.append(
                {
                    "id": f"translation-{lang}-{split}-{number[lang]:04d}",
                    "language": lang,
                    "task": "translation",
                    "split": split,
                    "prompt": translation_prompt(
                        source, source_language=source_lang, target_language=lang
                    ),
                    "item_id": item_ids.get((split, pair.key)),
                    "source": source,
                    "source_language": source_lang,
                    "reference": reference,
                }
            )
        out[split] = rows
    return out


def read_premises(path: Path) -> list[dict]:
    """Story premises (one JSON object per line), or ``[]`` while the file is absent."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    items = [json.loads(line) for line in lines if line.strip()]
    return sorted(items, key=lambda item: item["item_id"])


def story_rows(premises: list[dict], *, eval_items: int) -> dict[str, list[dict]]:
    """Story prompts: items numbered up to ``eval_items`` are eval, the rest heldout.

    ``prompt`` is the premise cut mid-sentence (:func:`story_opening`);
    ``source`` keeps the whole premise.
    """
    out: dict[str, list[dict]] = {"eval": [], "heldout": []}
    for lang in BUILTIN_LANGUAGES:
        for item in premises:
            number = int(item["item_id"].rsplit("-", 1)[-1])  # story-001 → 1
            split = "eval" if number <= eval_items else "heldout"
            number = number if split == "eval" else number - eval_items
            text = item.get(lang, "").strip()
            if not text:
                continue
            out[split].append(
                {
                    "id": f"story-{lang}-{split}-{number:04d}",
                    "language": lang,
                    "task": "story",
                    "split": split,
                    "prompt": story_opening(text, lang),
                    "item_id": item["item_id"],
                    "source": text,
                }
            )
    return out
