"""A causal LM drafter with its own KV cache."""

from __future__ import annotations

import torch
from transformers import DynamicCache, PreTrainedModel

from specaudit.audit.drafters.base import Drafter, ForwardTimer, Proposal
from specaudit.audit.forward import cache_kwargs, new_cache, prefill
from specaudit.audit.loading import context_length
from specaudit.audit.sampling import TokenSampler

__all__ = ["NeuralDrafter", "align_vocab"]


def align_vocab(logits: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """Cut or pad (with -inf) the last dimension of ``logits`` to ``vocab_size``.

    Models that share a tokenizer can still pad their embedding matrices to
    different sizes; ids past the tokenizer are never real tokens, so q puts
    no mass on the target's extra rows.
    """
    width = logits.shape[-1]
    if width == vocab_size:
        return logits
    if width > vocab_size:
        return logits[..., :vocab_size]
    pad = logits.new_full((*logits.shape[:-1], vocab_size - width), float("-inf"))
    return torch.cat([logits, pad], dim=-1)


class NeuralDrafter(Drafter):
    """Drafts autoregressively with a small causal LM.

    Its cache holds the tokens it has seen, including its own drafts. On each
    :meth:`propose` it keeps the longest prefix that still agrees with the
    confirmed sequence and crops the rest (never recomputing from scratch),
    then feeds the new tokens and drafts k more.

    Parameters
    ----------
    model : PreTrainedModel
        The drafter, already on its device and in eval mode.
    vocab_size : int
        The target's logit width; drafter logits are aligned to it.
    """

    def __init__(self, model: PreTrainedModel, *, vocab_size: int) -> None:
        self.model = model
        self.vocab_size = vocab_size
        self.context_length = context_length(model)
        self.device = model.device
        self._cache: DynamicCache | None = None
        self._ids: list[int] = []  # tokens whose keys/values sit in the cache
        self._confirmed = 0  # prefix of _ids known to match the caller's ids
        self._timer: ForwardTimer | None = None

    def _forward(self, ids: torch.Tensor) -> torch.Tensor:
        assert self._timer is not None
        with self._timer:
            out = self.model(
                input_ids=ids.view(1, -1), use_cache=True, **cache_kwargs(self.model, self._cache)
            )
        self.n_forwards += 1
        return out.logits[0, -1:]  # (1, V_drafter)

    def begin(self, prompt_ids: list[int], timer: ForwardTimer) -> None:
        """Start a prompt: prefill the cache on all prompt tokens but the last."""
        self._timer = timer
        self._cache = new_cache(self.model)
        self.n_forwards = 0
        head = prompt_ids[:-1]
        with timer:
            prefill(self.model, head, self._cache)
        self._ids = list(head)
        self._confirmed = len(head)

    @torch.inference_mode()
    def propose(self, ids: list[int], k: int, sampler: TokenSampler) -> Proposal:
        """Draft up to ``k`` tokens after ``ids``; see :class:`Drafter`."""
        # Roll back: keep the cached prefix that agrees with ids, but leave at
        # least one token of ids to feed so there are logits to draft from.
        keep = self._confirmed
        limit = min(len(self._ids), len(ids) - 1)
        while keep < limit and self._ids[keep] == ids[keep]:
            keep += 1
        if len(self._ids) > keep:
            self._cache.crop(keep - len(self._ids))
            del self._ids[keep:]
        feed = torch.tensor(ids[keep:], device=self.device)
        self._ids.extend(ids[keep:])
        self._confirmed = len(ids)

        tokens, rows, dists = [], [], []
        for _ in range(k):
            logits = align_vocab(self._forward(feed), self.vocab_size)  # (1, V)
            token, dist = sampler.choose(logits)  # (1,), (1, V) | None
            tokens.append(token)
            rows.append(logits)
            if dist is not None:
                dists.append(dist)
            feed = token  # stays on the device: no host sync per draft
        draft = (
            torch.cat(tokens) if tokens else torch.empty(0, dtype=torch.long, device=self.device)
        )
        self._ids.extend(draft[:-1].tolist())  # the last draft was never fed
        return Proposal(
            tokens=draft,
            logits=torch.cat(rows) if rows else torch.empty(0, self.vocab_size, device=self.device),
            q=torch.cat(dists) if dists else None,
        )

    def describe(self) -> dict:
        """Drafter facts for the environment record."""
        return {"kind": "neural", "parameters": sum(p.numel() for p in self.model.parameters())}
