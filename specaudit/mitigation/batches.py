"""Collate training rows into padded tensors, and draw minibatches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from specaudit.mitigation.continuations import TrainingRow

__all__ = ["Batch", "collate", "draw_per_group", "draw_weighted", "group_of", "text_windows"]


@dataclass(frozen=True)
class Batch:
    """A right-padded batch.

    ``score[b, t]`` is True where the logits at ``t`` predict a continuation
    token (``t + 1``); padding and prompt positions are never scored.
    """

    ids: torch.Tensor  #: [batch, time] long
    attention: torch.Tensor  #: [batch, time] long, 1 on real tokens
    score: torch.Tensor  #: [batch, time] bool
    groups: torch.Tensor  #: [batch] long, group index per row

    def to(self, device) -> Batch:
        """Return the same batch on ``device``."""
        return Batch(*(t.to(device) for t in (self.ids, self.attention, self.score, self.groups)))


def group_of(row: TrainingRow, group_index: dict[str, int]) -> int:
    """Index of ``row``'s training group in ``group_index``.

    Groups are (language, kind) pairs, ``"sw/translation"``, wherever the
    index has them (``docs/method.md#groups``); a strategy whose data can only
    be split by language indexes languages, and its rows fall in their
    language's group.
    """
    return group_index[row.group] if row.group in group_index else group_index[row.language]


def collate(rows: Sequence[TrainingRow], group_index: dict[str, int], pad_id: int) -> Batch:
    """Pad ``rows`` (prompt + continuation) to one tensor batch (groups by :func:`group_of`)."""
    lengths = [len(r.prompt_ids) + len(r.continuation_ids) for r in rows]
    width = max(lengths)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    score = torch.zeros((len(rows), width), dtype=torch.bool)
    for b, (row, n) in enumerate(zip(rows, lengths, strict=True)):
        ids[b, :n] = torch.tensor(row.prompt_ids + row.continuation_ids)
        attention[b, :n] = 1
        # logits at p-1 … n-2 predict the continuation tokens p … n-1
        score[b, len(row.prompt_ids) - 1 : n - 1] = True
    groups = torch.tensor([group_of(r, group_index) for r in rows], dtype=torch.long)
    return Batch(ids, attention, score, groups)


def draw_per_group(
    pools: Sequence[Sequence[TrainingRow]], k: int, generator: torch.Generator
) -> list[TrainingRow]:
    """``k`` rows from every group's pool, uniformly with replacement."""
    out = []
    for pool in pools:
        picks = torch.randint(len(pool), (k,), generator=generator).tolist()
        out += [pool[i] for i in picks]
    return out


def draw_weighted(
    pools: Sequence[Sequence[TrainingRow]],
    weights: Sequence[float],
    n: int,
    generator: torch.Generator,
) -> list[TrainingRow]:
    """``n`` rows whose groups are drawn with probability ∝ ``weights``.

    The weighted-sampling form of s-CDF: in expectation it minimises the same
    ``Σ w_i D̂_i / Σ w_i`` as the weighted loss. A group of weight 0 is never
    drawn.
    """
    w = torch.as_tensor(weights, dtype=torch.float64)
    groups = torch.multinomial(w, n, replacement=True, generator=generator).tolist()
    out = []
    for g in groups:
        pool = pools[g]
        out.append(pool[int(torch.randint(len(pool), (1,), generator=generator))])
    return out


def text_windows(
    streams: Sequence[torch.Tensor], k: int, seq_len: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``k`` random windows of ``seq_len`` tokens from every group's token stream.

    Returns the ids ``[groups·k, seq_len]`` and the group index of each row.
    """
    rows, groups = [], []
    for g, stream in enumerate(streams):
        if len(stream) <= seq_len:
            raise ValueError(f"group {g} has only {len(stream)} tokens of text")
        starts = torch.randint(len(stream) - seq_len, (k,), generator=generator).tolist()
        rows += [stream[s : s + seq_len] for s in starts]
        groups += [g] * k
    return torch.stack(rows), torch.tensor(groups, dtype=torch.long)
