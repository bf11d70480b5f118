"""Monolingual train/heldout text per language, free of prompt and story leaks.

Documents are cut into units of a few thousand characters at paragraph
boundaries. Paragraphs are deduplicated per language, and any paragraph that
contains an eval/heldout translation string or a story premise is dropped. Units
from each origin are then interleaved in stable-hash order, balanced by characters:
the first ones make the heldout text (≈ ``heldout_chars``, at most a fifth of a
small language), the rest the train text up to ``train_cap``.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

from .textnorm import split_key, stable_hash

__all__ = ["TextSplit", "build_text", "documents_to_units", "units_from_strings"]

UNIT_CHARS = 4000  # a unit is cut after the paragraph that reaches this many characters


@dataclass
class TextSplit:
    """Paragraphs of one language's train and heldout text, and where they came from."""

    train: list[str]
    heldout: list[str]
    train_chars_by_origin: dict[str, int]


Unit = tuple[str, str, list[str]]  # (origin, unit id, paragraphs)


def documents_to_units(origin: str, documents: Iterable[tuple[str, list[str]]]) -> list[Unit]:
    """Cut documents (``(doc_id, paragraphs)``) into units of about ``UNIT_CHARS``."""
    units: list[Unit] = []
    for doc_id, paragraphs in documents:
        chunks: list[list[str]] = [[]]
        size = 0
        for paragraph in paragraphs:
            if size >= UNIT_CHARS:
                chunks.append([])
                size = 0
            chunks[-1].append(paragraph)
            size += len(paragraph)
        units.extend((origin, f"{doc_id}#{i}", chunk) for i, chunk in enumerate(chunks) if chunk)
    return units


def units_from_strings(origin: str, strings: list[str], *, per_unit: int = 40) -> list[Unit]:
    """Group short strings (translation targets) into units of ``per_unit`` lines."""
    ordered = sorted(strings, key=lambda s: (stable_hash(s), s))
    docs = [
        (f"{origin}/{i // per_unit}", ordered[i : i + per_unit])
        for i in range(0, len(ordered), per_unit)
    ]
    return documents_to_units(origin, docs)


def _leaky(paragraphs: list[str], needles: set[str]) -> set[int]:
    """Indices of paragraphs that contain any needle (one pass of str.find per needle)."""
    starts, pos = [], 0
    for paragraph in paragraphs:
        starts.append(pos)
        pos += len(paragraph) + 1
    joined = "\n".join(paragraphs)
    hits: set[int] = set()
    for needle in needles:
        at = joined.find(needle)
        while at != -1:
            hits.add(bisect_right(starts, at) - 1)
            at = joined.find(needle, at + 1)
    return hits


def _interleave(units: list[Unit]) -> list[Unit]:
    """Units of all origins in one sequence, balanced by characters.

    Each origin's units are in stable-hash order; the next unit always comes from
    the origin that has contributed the fewest characters so far (ties by name).
    """
    by_origin: dict[str, list[Unit]] = {}
    for unit in units:
        by_origin.setdefault(unit[0], []).append(unit)
    queues = {
        origin: sorted(group, key=lambda u: (stable_hash(u[1]), u[1]))[::-1]
        for origin, group in by_origin.items()
    }
    taken = dict.fromkeys(queues, 0)
    out: list[Unit] = []
    while queues:
        origin = min(queues, key=lambda o: (taken[o], o))
        unit = queues[origin].pop()
        out.append(unit)
        taken[origin] += sum(len(p) for p in unit[2])
        if not queues[origin]:
            del queues[origin]
    return out


def build_text(
    documents_by_origin: dict[str, list[Unit]],
    *,
    needles: set[str],
    heldout_chars: int,
    train_cap: int,
    max_heldout_share: float = 0.2,
) -> TextSplit:
    """Deduplicate, remove leaks, and split one language's units into heldout and train.

    Parameters
    ----------
    documents_by_origin : dict
        Origin name → its units (see ``documents_to_units`` / ``units_from_strings``).
    needles : set of str
        Strings that must not occur in any kept paragraph (eval/heldout translation
        sources and references in this language, story premises).
    heldout_chars, train_cap : int
        Target size of the heldout text, and the cap on the train text, in characters.
    max_heldout_share : float
        The heldout text takes at most this share of a small language's text (sw).
    """
    units = [u for origin in sorted(documents_by_origin) for u in documents_by_origin[origin]]
    units.sort(key=lambda u: (u[0], u[1]))
    flat = [p for u in units for p in u[2]]
    leaky = _leaky(flat, {n for n in needles if n})
    seen: set[str] = set()
    kept_units: list[Unit] = []
    index = 0
    for origin, unit_id, paragraphs in units:
        kept = []
        for paragraph in paragraphs:
            key = split_key(paragraph)
            if index not in leaky and key not in seen:
                kept.append(paragraph)
            seen.add(key)
            index += 1
        if kept:
            kept_units.append((origin, unit_id, kept))
    total = sum(len(p) for u in kept_units for p in u[2])
    heldout_chars = min(heldout_chars, int(total * max_heldout_share))
    heldout: list[str] = []
    train: list[str] = []
    by_origin: dict[str, int] = {}
    held_size = train_size = 0
    for origin, _, paragraphs in _interleave(kept_units):
        size = sum(len(p) + 2 for p in paragraphs)
        if held_size < heldout_chars:
            heldout.extend(paragraphs)
            held_size += size
        elif train_size < train_cap:
            train.extend(paragraphs)
            train_size += size
            by_origin[origin] = by_origin.get(origin, 0) + sum(len(p) for p in paragraphs)
    return TextSplit(train, heldout, dict(sorted(by_origin.items())))
