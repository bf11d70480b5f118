"""The drafter of "no speculation": it never proposes, so every step is a plain step."""

from __future__ import annotations

import torch

from specaudit.audit.drafters.base import Drafter, ForwardTimer, Proposal
from specaudit.audit.sampling import TokenSampler

__all__ = ["NoDrafter"]


class NoDrafter(Drafter):
    """Proposes nothing: each verify forward scores the pending token alone.

    A routed run sends the groups whose best setting is no speculation
    through the same loop as the others, so they are timed (and checked for
    losslessness) like every other group.

    Parameters
    ----------
    vocab_size : int
        The target's logit width.
    device : torch.device
        Where the target's logits live.
    """

    def __init__(self, *, vocab_size: int, device: torch.device) -> None:
        self.vocab_size = vocab_size
        self.device = device

    def begin(self, prompt_ids: list[int], timer: ForwardTimer) -> None:
        """Nothing to prefill."""
        self.n_forwards = 0

    def propose(self, ids: list[int], k: int, sampler: TokenSampler) -> Proposal:
        """Propose no draft."""
        return Proposal(
            tokens=torch.empty(0, dtype=torch.long, device=self.device),
            logits=torch.empty(0, self.vocab_size, device=self.device),
            q=None,
        )

    def describe(self) -> dict:
        """Drafter facts for the environment record."""
        return {"kind": "none"}
