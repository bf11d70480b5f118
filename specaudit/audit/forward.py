"""Thin helpers around a causal LM forward with a KV cache."""

from __future__ import annotations

import functools
import inspect

import torch
from transformers import DynamicCache, PreTrainedModel

__all__ = ["new_cache", "prefill"]


@functools.cache
def _supports_logits_to_keep(model_class: type) -> bool:
    return "logits_to_keep" in inspect.signature(model_class.forward).parameters


def new_cache(model: PreTrainedModel) -> DynamicCache:
    """Return an empty dynamic KV cache for ``model``."""
    return DynamicCache(config=model.config)


@torch.inference_mode()
def prefill(model: PreTrainedModel, ids: list[int], cache: DynamicCache) -> None:
    """Fill ``cache`` with ``ids``; no logits are needed, so keep only the last.

    With a 262k vocabulary, full prefill logits would cost more than the
    forward itself.
    """
    if not ids:
        return
    extra = {"logits_to_keep": 1} if _supports_logits_to_keep(type(model)) else {}
    model(
        input_ids=torch.tensor([ids], device=model.device),
        past_key_values=cache,
        use_cache=True,
        **extra,
    )
