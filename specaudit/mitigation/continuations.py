"""The frozen target's own continuations of the training prompts, cached on disk.

Distillation teaches the drafter what the target *does*: a row is a prompt
followed by the target's greedy continuation, and the soft labels are the
target's distributions along it. Generating them is the slowest part of data
preparation and identical for every strategy, so they are generated once
per (target, prompts, settings) and cached under the mitigation directory;
the cache key makes a stale file impossible to reuse.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from specaudit.atomic import write_atomic

__all__ = ["TrainingRow", "cache_key", "generate_continuations", "load_or_generate"]


@dataclass(frozen=True)
class TrainingRow:
    """One training (or probe) sequence: prompt ids, then the target's continuation."""

    id: str
    language: str
    kind: str  #: "translation" or "text"
    role: str  #: "train" or "probe"
    prompt_ids: tuple[int, ...]
    continuation_ids: tuple[int, ...]

    @property
    def group(self) -> str:
        """The row's (language, kind) training group, ``"<language>/<kind>"``."""
        return f"{self.language}/{self.kind}"


def cache_key(settings: dict) -> str:
    """Hash everything the continuations depend on."""
    blob = json.dumps(settings, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@torch.inference_mode()
def generate_continuations(
    model,
    items: Sequence[tuple[str, str, str, str, list[int]]],
    *,
    max_new_tokens: int,
    eos_ids: set[int],
    pad_id: int,
    batch_size: int = 32,
    progress: Callable[[int], None] | None = None,
) -> list[TrainingRow]:
    """Greedy continuations of many prompts, batched with left padding.

    Parameters
    ----------
    model
        The frozen target, in eval mode.
    items : sequence of (id, language, kind, role, prompt ids)
        The prompts, already encoded the way the audit encodes them.
    max_new_tokens : int
        Continuation length (the audit's ``max_new_tokens``).
    eos_ids : set of int
        A continuation keeps its first end-of-sequence token (the drafter
        must learn to predict it too) and nothing after it.
    pad_id : int
        Left-padding id; masked out of attention.
    batch_size : int
        Prompts per ``generate`` call. Prompts are sorted by length first so
        batches carry little padding.
    progress : callable, optional
        Called with the number of prompts finished after each batch.
    """
    order = sorted(range(len(items)), key=lambda i: len(items[i][4]))
    out: dict[int, TrainingRow] = {}
    device = model.device
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        width = max(len(items[i][4]) for i in chunk)
        ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
        attention = torch.zeros((len(chunk), width), dtype=torch.long)
        for row, i in enumerate(chunk):
            prompt = items[i][4]
            ids[row, width - len(prompt) :] = torch.tensor(prompt)
            attention[row, width - len(prompt) :] = 1
        generated = model.generate(
            input_ids=ids.to(device),
            attention_mask=attention.to(device),
            max_new_tokens=max_new_tokens,
            min_new_tokens=1,
            do_sample=False,
            pad_token_id=pad_id,
            eos_token_id=sorted(eos_ids) or None,
        )[:, width:].tolist()
        for row, i in enumerate(chunk):
            cont = []
            for token in generated[row]:
                cont.append(token)
                if token in eos_ids:
                    break
            key, language, kind, role, prompt = items[i]
            out[i] = TrainingRow(key, language, kind, role, tuple(prompt), tuple(cont))
        if progress is not None:
            progress(len(chunk))
    return [out[i] for i in range(len(items))]


def _read(path: Path) -> list[TrainingRow]:
    with path.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    return [
        TrainingRow(
            **{
                **r,
                "prompt_ids": tuple(r["prompt_ids"]),
                "continuation_ids": tuple(r["continuation_ids"]),
            }
        )
        for r in rows[1:]  # row 0 is the settings header
    ]


def load_or_generate(
    cache_dir: Path, settings: dict, generate: Callable[[], list[TrainingRow]]
) -> tuple[list[TrainingRow], Path, bool]:
    """Read the cached continuations for ``settings``, or generate and cache them.

    Returns the rows, the cache file and whether it was reused.
    """
    path = Path(cache_dir) / f"continuations-{cache_key(settings)}.jsonl"
    if path.is_file():
        return _read(path), path, True
    rows = generate()
    lines = [json.dumps({"settings": settings}, sort_keys=True, default=str)]
    lines += [json.dumps(asdict(r), ensure_ascii=False) for r in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, "\n".join(lines) + "\n")
    return rows, path, False
