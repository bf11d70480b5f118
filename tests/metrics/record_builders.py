"""Hand-built record dicts for the metrics tests (the records.jsonl format)."""

from __future__ import annotations

from typing import Any


def step(
    drafted: int,
    accepted: int,
    *,
    alpha: float = 0.5,
    ce: float = 1.0,
    kl: float = 0.2,
) -> dict[str, Any]:
    """One step; every verified position gets the same alpha, ce and kl."""
    rejected = accepted < drafted
    verified = accepted + int(rejected)
    return {
        "drafted": drafted,
        "accepted": accepted,
        "rejected": rejected,
        "emitted": accepted + 1,
        "draft_time_s": 0.001 * drafted,
        "verify_time_s": 0.02,
        "position_accepted": [True] * accepted + [False] * int(rejected),
        "alpha": [alpha] * verified,
        "cross_entropy": [ce] * verified,
        "kl": [kl] * verified,
    }


def record(
    steps: list[dict[str, Any]],
    *,
    id: str = "p0",
    language: str = "en",
    task: str = "t",
    item_id: str | None = None,
    baseline_time_s: float = 2.0,
    spec_time_s: float = 1.0,
    draft_forward_s: float = 0.002,
    target_forward_s: float = 0.02,
    output_chars: int | None = None,
    n_output_tokens: int | None = None,
) -> dict[str, Any]:
    """One prompt; output_ids has one token per emitted token unless given."""
    n_tokens = sum(s["accepted"] + 1 for s in steps) if n_output_tokens is None else n_output_tokens
    n_draft = sum(s["drafted"] for s in steps)
    return {
        "record_version": 1,
        "id": id,
        "language": language,
        "task": task,
        "item_id": item_id,
        "split": "test",
        "prompt": "p",
        "prompt_ids": [1],
        "output_ids": list(range(n_tokens)),
        "output_text": "x" * (output_chars if output_chars is not None else 4 * n_tokens),
        "stop_reason": "max_new_tokens",
        "steps": steps,
        "prefill_time_s": 0.01,
        "spec_time_s": spec_time_s,
        "baseline_output_ids": list(range(n_tokens)),
        "baseline_time_s": baseline_time_s,
        "baseline_prefill_time_s": 0.01,
        "lossless": True,
        "draft_forward_s": draft_forward_s if n_draft else 0.0,
        "target_forward_s": target_forward_s,
        "n_draft_forwards": n_draft,
        "forward_time_s": spec_time_s,
        "output_chars": output_chars if output_chars is not None else 4 * n_tokens,
        "prompt_chars": 1,
        "seed": 0,
    }


def group(
    steps: list[dict[str, Any]], n: int, *, language: str = "en", task: str = "t", **kwargs: Any
) -> list[dict[str, Any]]:
    """``n`` identical prompts (ids ``<language>-<i>``, item ids ``item-<i>``)."""
    return [
        record(
            [dict(s) for s in steps],
            id=f"{language}-{i}",
            language=language,
            task=task,
            item_id=f"item-{i}",
            **kwargs,
        )
        for i in range(n)
    ]
