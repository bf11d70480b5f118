"""Thin helpers around a causal LM forward with a KV cache."""

from __future__ import annotations

import functools
import inspect

import torch
from transformers import DynamicCache, PreTrainedModel

__all__ = ["cache_kwargs", "new_cache", "prefill"]


@functools.cache
def _supports_logits_to_keep(model_class: type) -> bool:
    return "logits_to_keep" in inspect.signature(model_class.forward).parameters


@functools.cache
def _cache_argument(model_class: type) -> str:
    # transformers 5.24 renamed ``past_key_values`` to ``cache`` (the old name
    # warns and goes in 5.40); earlier 5.x releases know only the old name.
    params = inspect.signature(model_class.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def cache_kwargs(model: PreTrainedModel, cache: DynamicCache | None) -> dict:
    """Return the forward keyword that passes ``cache`` to ``model`` in this transformers."""
    return {_cache_argument(type(model)): cache}


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
        use_cache=True,
        **cache_kwargs(model, cache),
        **extra,
    )
