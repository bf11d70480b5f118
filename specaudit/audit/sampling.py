"""Turning logits into tokens: greedy or sampling with temperature, top-k, top-p.

The same :class:`TokenSampler` serves the target and the drafter, so that in
sampling mode p and q are the distributions actually sampled from, warped
the same way (docs/method.md#sampling).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from transformers.generation.logits_process import (
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from specaudit.audit.acceptance import Verdict, greedy_accept, sampling_accept

__all__ = ["Decoding", "TokenSampler"]


@dataclass(frozen=True)
class Decoding:
    """How tokens are chosen."""

    mode: Literal["greedy", "sampling"] = "greedy"  #: greedy is lossless-checkable
    temperature: float = 1.0  #: sampling only; 1.0 leaves logits unchanged
    top_k: int = 0  #: sampling only; 0 disables top-k
    top_p: float = 1.0  #: sampling only; 1.0 disables nucleus filtering

    @property
    def greedy(self) -> bool:
        """Whether decoding is greedy."""
        return self.mode == "greedy"


class TokenSampler:
    """Chooses tokens and applies the matching acceptance rule.

    Parameters
    ----------
    decoding : Decoding
        Greedy or sampling parameters.
    generator : torch.Generator or None
        Randomness for sampling mode (ignored when greedy).
    """

    def __init__(self, decoding: Decoding, generator: torch.Generator | None = None) -> None:
        self.decoding = decoding
        self.generator = generator
        # transformers' warpers are the reference implementation of these
        # filters; they ignore their input_ids argument.
        self._warpers = []
        if not decoding.greedy:
            if decoding.temperature != 1.0:
                self._warpers.append(TemperatureLogitsWarper(decoding.temperature))
            if decoding.top_k > 0:
                self._warpers.append(TopKLogitsWarper(decoding.top_k))
            if decoding.top_p < 1.0:
                self._warpers.append(TopPLogitsWarper(decoding.top_p))

    @property
    def greedy(self) -> bool:
        """Whether decoding is greedy."""
        return self.decoding.greedy

    def distribution(self, logits: torch.Tensor) -> torch.Tensor:
        """Warped sampling distribution of ``logits`` with shape (n, V)."""
        scores = logits.float()
        for warp in self._warpers:
            scores = warp(None, scores)
        return torch.softmax(scores, dim=-1)

    def choose(self, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Pick one token from ``logits`` with shape (1, V).

        Returns
        -------
        token : Tensor, shape (1,)
            The chosen id, left on the device (no host sync).
        dist : Tensor of shape (1, V), or None
            The distribution sampled from; ``None`` in greedy mode.
        """
        if self.greedy:
            return logits.argmax(dim=-1), None
        dist = self.distribution(logits)
        return torch.multinomial(dist, 1, generator=self.generator).view(1), dist

    def accept(
        self, target_logits: torch.Tensor, q: torch.Tensor | None, draft: torch.Tensor
    ) -> Verdict:
        """Verify ``draft`` (k,) against target logits (k + 1, V) and q (k, V)."""
        if self.greedy:
            return greedy_accept(target_logits, draft)
        p = self.distribution(target_logits)
        if q is None:  # nothing was drafted
            q = p.new_zeros((0, p.shape[-1]))
        return sampling_accept(p, q, draft, self.generator)
