"""Order-n token counts over a target's tokenizer: build, look up, save, load.

The table for context length L (1 <= L < n) stores, for every context of L
token ids seen in the text, the ids that followed it and how often. Contexts
are found by a 64-bit polynomial hash with a sorted key array (binary
search), then confirmed against the stored ids, so a hash collision can
never return the wrong counts.

File format (safetensors; no pickle): for each L, tensors ``keys_L`` (uint64,
sorted hashes), ``contexts_L`` (int32, M x L), ``offsets_L`` (int64, M + 1),
``next_L`` and ``counts_L`` (int32; within a context sorted by count
descending, then id ascending). Metadata: ``format``, ``format_version``,
``order``, ``vocab_size``, ``tokenizer_fingerprint``, ``tokens``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["NGramModel"]

FORMAT = "specaudit-ngram"
FORMAT_VERSION = "1"
_MULT = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit multiplier (golden ratio)
_MASK = (1 << 64) - 1


def _hash_rows(contexts: np.ndarray) -> np.ndarray:
    """Hash each row of an (M, L) id array to uint64 (wrapping arithmetic)."""
    h = np.zeros(contexts.shape[0], dtype=np.uint64)
    for j in range(contexts.shape[1]):
        h = h * _MULT + (contexts[:, j].astype(np.uint64) + np.uint64(1))
    return h


def _hash_tuple(context: Sequence[int]) -> int:
    h = 0
    mult = int(_MULT)
    for t in context:
        h = (h * mult + t + 1) & _MASK
    return h


@dataclass(frozen=True)
class _Table:
    """All contexts of one length L."""

    keys: np.ndarray  # (M,) uint64, sorted
    contexts: np.ndarray  # (M, L) int32
    offsets: np.ndarray  # (M + 1,) int64 into next/counts
    next: np.ndarray  # (E,) int32
    counts: np.ndarray  # (E,) int32

    def lookup(self, context: Sequence[int]) -> tuple[np.ndarray, np.ndarray] | None:
        h = np.uint64(_hash_tuple(context))
        i = int(np.searchsorted(self.keys, h, side="left"))
        while i < len(self.keys) and self.keys[i] == h:
            if np.array_equal(self.contexts[i], context):
                lo, hi = self.offsets[i], self.offsets[i + 1]
                return self.next[lo:hi], self.counts[lo:hi]
            i += 1
        return None


def _build_table(stream: np.ndarray, length: int) -> _Table:
    """Count (context, next) pairs of one context length in a -1-separated stream."""
    windows = sliding_window_view(stream, length + 1)
    windows = windows[(windows >= 0).all(axis=1)]  # no window crosses a document break
    ctx, nxt = windows[:, :length].astype(np.int32), windows[:, length].astype(np.int32)
    keys = _hash_rows(ctx)
    # Sort by (hash, context ids, next id) so equal pairs are adjacent.
    order = np.lexsort((nxt, *ctx.T[::-1], keys))
    keys, ctx, nxt = keys[order], ctx[order], nxt[order]
    n = len(keys)
    if n == 0:
        empty = np.zeros(0, dtype=np.int32)
        return _Table(
            np.zeros(0, np.uint64),
            np.zeros((0, length), np.int32),
            np.zeros(1, np.int64),
            empty,
            empty,
        )
    new_ctx = np.ones(n, dtype=bool)
    new_ctx[1:] = (keys[1:] != keys[:-1]) | (ctx[1:] != ctx[:-1]).any(axis=1)
    new_pair = new_ctx.copy()
    new_pair[1:] |= nxt[1:] != nxt[:-1]
    pair_start = np.flatnonzero(new_pair)
    pair_counts = np.diff(np.append(pair_start, n)).astype(np.int32)
    pair_ctx = np.cumsum(new_ctx)[pair_start] - 1  # context index of each pair
    pair_next = nxt[pair_start]
    # Within a context: most frequent first, ties by smaller id (greedy = first).
    within = np.lexsort((pair_next, -pair_counts, pair_ctx))
    ctx_start = np.flatnonzero(new_ctx)
    offsets = np.searchsorted(pair_ctx, np.arange(len(ctx_start) + 1), side="left")
    return _Table(
        keys=keys[ctx_start],
        contexts=ctx[ctx_start],
        offsets=offsets.astype(np.int64),
        next=pair_next[within],
        counts=pair_counts[within],
    )


class NGramModel:
    """Counts of next tokens after contexts of 1..order-1 tokens.

    Parameters
    ----------
    order : int
        n, so contexts have up to n - 1 tokens.
    vocab_size : int
        Size of the tokenizer the ids come from.
    tokenizer_fingerprint : str
        :func:`specaudit.audit.loading.vocab_fingerprint` of that tokenizer,
        checked against the target's at load time.
    tables : dict
        Context length -> table.
    tokens : int
        Tokens counted.
    """

    def __init__(
        self,
        *,
        order: int,
        vocab_size: int,
        tokenizer_fingerprint: str,
        tables: dict[int, _Table],
        tokens: int,
    ) -> None:
        self.order = order
        self.vocab_size = vocab_size
        self.tokenizer_fingerprint = tokenizer_fingerprint
        self.tables = tables
        self.tokens = tokens

    @classmethod
    def build(
        cls,
        sequences: Iterable[Sequence[int]],
        *,
        order: int,
        vocab_size: int,
        tokenizer_fingerprint: str,
    ) -> NGramModel:
        """Count n-grams in token sequences; no n-gram spans two sequences."""
        if order < 2:
            raise ValueError(f"order must be at least 2, got {order}")
        parts = []
        for seq in sequences:
            parts.append(np.asarray(seq, dtype=np.int64))
            parts.append(np.array([-1], dtype=np.int64))
        stream = np.concatenate(parts) if parts else np.array([-1], dtype=np.int64)
        tokens = int((stream >= 0).sum())
        tables = {
            length: _build_table(stream, length)
            for length in range(1, order)
            if len(stream) > length
        }
        return cls(
            order=order,
            vocab_size=vocab_size,
            tokenizer_fingerprint=tokenizer_fingerprint,
            tables=tables,
            tokens=tokens,
        )

    def lookup(self, ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray] | None:
        """Next-token ids and counts after ``ids``, backing off to shorter contexts.

        Tries the last n - 1 tokens, then n - 2, down to 1. Returns ``None``
        when not even the last token was seen: the drafter then stops rather
        than guess from unigram frequencies.
        """
        for length in range(min(self.order - 1, len(ids)), 0, -1):
            table = self.tables.get(length)
            if table is None:
                continue
            found = table.lookup(ids[len(ids) - length :])
            if found is not None:
                return found
        return None

    def save(self, path: str | Path) -> None:
        """Write the model as safetensors (atomically: temp file, then rename)."""
        from safetensors.numpy import save_file

        from specaudit.atomic import atomic_path

        tensors = {}
        for length, t in self.tables.items():
            tensors.update(
                {
                    f"keys_{length}": t.keys,
                    f"contexts_{length}": t.contexts,
                    f"offsets_{length}": t.offsets,
                    f"next_{length}": t.next,
                    f"counts_{length}": t.counts,
                }
            )
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "order": str(self.order),
            "vocab_size": str(self.vocab_size),
            "tokens": str(self.tokens),
            "tokenizer_fingerprint": self.tokenizer_fingerprint,
        }
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), metadata=meta)

    @classmethod
    def load(cls, path: str | Path) -> NGramModel:
        """Read a file written by :meth:`save`.

        Raises
        ------
        ValueError
            If the file is not a specaudit n-gram file of a known version.
        """
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="numpy") as f:
                meta = f.metadata() or {}
                arrays = {name: f.get_tensor(name) for name in f.keys()}
        except Exception as err:  # safetensors raises several types for bad files
            raise ValueError(f"{path} is not a readable n-gram file ({err})") from None
        if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{path} is not a specaudit n-gram file (format {meta.get('format')!r})"
            )
        order = int(meta["order"])
        tables = {
            length: _Table(
                arrays[f"keys_{length}"],
                arrays[f"contexts_{length}"],
                arrays[f"offsets_{length}"],
                arrays[f"next_{length}"],
                arrays[f"counts_{length}"],
            )
            for length in range(1, order)
            if f"keys_{length}" in arrays
        }
        return cls(
            order=order,
            vocab_size=int(meta["vocab_size"]),
            tokenizer_fingerprint=meta["tokenizer_fingerprint"],
            tables=tables,
            tokens=int(meta["tokens"]),
        )
