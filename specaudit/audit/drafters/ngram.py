"""A drafter that proposes from n-gram counts over the target's token ids."""

from __future__ import annotations

import math

import torch

from specaudit.audit.drafters.base import Drafter, ForwardTimer, Proposal
from specaudit.audit.ngram import NGramModel
from specaudit.audit.sampling import TokenSampler

__all__ = ["NGramDrafter"]


class NGramDrafter(Drafter):
    """Drafts from the count distribution of the longest seen context.

    q is exactly the count distribution (warped like p in sampling mode), so
    the acceptance rule stays exact. When no context is seen it stops and
    proposes fewer tokens, possibly none, instead of proposing junk. Drafting
    costs table look-ups only, so c is close to 0.

    Parameters
    ----------
    model : NGramModel
        The counts.
    vocab_size : int
        The target's logit width.
    device : torch.device
        Where the target's logits live.
    """

    def __init__(self, model: NGramModel, *, vocab_size: int, device: torch.device) -> None:
        self.model = model
        self.vocab_size = vocab_size
        self.device = device

    def begin(self, prompt_ids: list[int], timer: ForwardTimer) -> None:
        """Nothing to prefill: the table is the state."""
        self.n_forwards = 0

    def _log_probs(self, next_ids, counts) -> torch.Tensor:
        row = torch.full((1, self.vocab_size), float("-inf"), device=self.device)
        total = float(counts.sum())
        row[0, torch.as_tensor(next_ids, device=self.device, dtype=torch.long)] = torch.as_tensor(
            [math.log(c / total) for c in counts.tolist()], device=self.device
        )
        return row  # (1, V)

    def propose(self, ids: list[int], k: int, sampler: TokenSampler) -> Proposal:
        """Draft up to ``k`` tokens; stop early at an unseen context."""
        context = ids[-(self.model.order - 1) :]
        tokens, rows, dists = [], [], []
        for _ in range(k):
            self.n_forwards += 1
            found = self.model.lookup(context)
            if found is None:
                break
            logits = self._log_probs(*found)  # (1, V)
            chosen, dist = sampler.choose(logits)
            token = int(chosen)
            tokens.append(token)
            rows.append(logits)
            if dist is not None:
                dists.append(dist)
            context = [*context, token][-(self.model.order - 1) :]
        return Proposal(
            tokens=torch.tensor(tokens, dtype=torch.long, device=self.device),
            logits=torch.cat(rows) if rows else torch.empty(0, self.vocab_size, device=self.device),
            q=torch.cat(dists) if dists else None,
        )

    def describe(self) -> dict:
        """Drafter facts for the environment record."""
        return {"kind": "ngram", "order": self.model.order, "tokens": self.model.tokens}
