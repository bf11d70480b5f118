"""What a run's records cannot tell: figures a serving backend does not report.

Records written by a serving backend (``specaudit run --backend vllm`` or
``openai``, see ``docs/serving.md``) hold per-step drafted and accepted
counts and per-request times, but ``null`` for the per-position
distributional fields (alpha = sum min(p, q), cross-entropy, KL) and for the
per-forward costs. The figures built on them are undefined (``null`` in
``metrics.json``); this module adds the notes that say why, and the share of
greedy outputs that were identical between the speculative and the plain
engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["NOT_AVAILABLE", "availability_notes", "served_by_backend"]

#: The wording every undefined-by-backend figure carries.
NOT_AVAILABLE = "not available for this backend"


def served_by_backend(record: Mapping[str, Any]) -> bool:
    """Whether a record came from a serving backend (it has no per-forward costs)."""
    steps = record.get("steps") or []
    return record.get("draft_forward_s", 0.0) is None or any(s.get("alpha") is None for s in steps)


def availability_notes(records: Iterable[Mapping[str, Any]]) -> list[str]:
    """Return notes on the figures a serving backend's records cannot give.

    Parameters
    ----------
    records : iterable of mapping
        Record dicts as read from ``records.jsonl``.

    Returns
    -------
    list of str
        Empty for native-engine records.
    """
    served = [r for r in records if served_by_backend(r)]
    if not served:
        return []
    notes = [
        "distributional acceptance (alpha), total variation, cross-entropy, KL, unfairness U "
        f"and the divergence bounds: {NOT_AVAILABLE} (it reports accepted counts only)",
        f"forward-cost ratio c and the analytic speed-up: {NOT_AVAILABLE} "
        "(no per-forward timings; the measured speed-up is per request)",
    ]
    if any(r.get("baseline_time_s") is None for r in served):
        notes.append("speed-up: not measured for prompts without a plain baseline (--baseline-url)")
    compared = [r["lossless"] for r in served if r.get("lossless") is not None]
    if compared:
        same = sum(bool(x) for x in compared)
        notes.append(
            f"identical outputs (greedy): {same}/{len(compared)} speculative outputs equal the "
            "plain engine's token for token; batching can break near-ties differently"
        )
    return notes
