"""The one small interface between drafters and the decoding loop.

The loop never branches on what a drafter is: a neural drafter with a KV
cache and an n-gram table both answer :meth:`Drafter.propose`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch

from specaudit.audit.sampling import TokenSampler

__all__ = ["Drafter", "ForwardTimer", "Proposal"]


@dataclass(frozen=True)
class Proposal:
    """Up to k draft tokens and the drafter's distributions behind them."""

    tokens: torch.Tensor  #: (k',) draft ids, k' <= k, on the device
    logits: torch.Tensor  #: (k', V) drafter logits (log-probs for n-gram), target vocab
    q: torch.Tensor | None  #: (k', V) distributions sampled from; None when greedy

    def __len__(self) -> int:
        return int(self.tokens.numel())


class ForwardTimer:
    """Accumulates wall time spent inside model forwards.

    The engine and the neural drafter share one, so that the time a run
    spends outside forwards (the engine's own overhead) can be reported. On
    CUDA it records events instead of reading the clock, because a clock read
    needs a synchronise, which would stall the host before every forward.
    """

    def __init__(self, clock) -> None:
        self.clock = clock
        self._cuda = clock.device.type == "cuda"
        self._seconds = 0.0
        self._start = 0.0
        self._events: list = []

    def __enter__(self) -> ForwardTimer:
        if self._cuda:
            start = torch.cuda.Event(enable_timing=True)
            start.record()
            self._events.append([start, None])
        else:
            self._start = self.clock()
        return self

    def __exit__(self, *exc) -> None:
        if self._cuda:
            end = torch.cuda.Event(enable_timing=True)
            end.record()
            self._events[-1][1] = end
        else:
            self._seconds += self.clock() - self._start

    @property
    def total_s(self) -> float:
        """Seconds inside forwards so far (synchronises once on CUDA)."""
        if self._events:
            self._events[-1][1].synchronize()
            self._seconds += sum(a.elapsed_time(b) for a, b in self._events) / 1000.0
            self._events.clear()
        return self._seconds


class Drafter(ABC):
    """Proposes draft tokens for the target to verify.

    Attributes
    ----------
    n_forwards : int
        Drafting forwards (or table look-ups) since the last :meth:`begin`;
        the mean cost of one gives the forward-cost ratio c.
    context_length : int or None
        Longest sequence the drafter can condition on (None: unbounded).
    """

    n_forwards: int = 0
    context_length: int | None = None

    @abstractmethod
    def begin(self, prompt_ids: list[int], timer: ForwardTimer) -> None:
        """Reset per-prompt state and prefill on the prompt."""

    @abstractmethod
    def propose(self, ids: list[int], k: int, sampler: TokenSampler) -> Proposal:
        """Propose up to ``k`` tokens continuing ``ids``.

        ``ids`` is the confirmed sequence (prompt and emitted tokens). It only
        grows between calls within one prompt, so a drafter may keep a cache
        of an earlier ``ids`` and roll it back to the common prefix.
        """

    def describe(self) -> dict:
        """Facts about the drafter for the run's environment record."""
        return {}
