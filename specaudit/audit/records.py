"""Typed records that come out of the decoding engine and go into ``records.jsonl``.

One :class:`PromptRecord` is written per prompt, as one JSON line. Every later
stage (metrics, reports, the gate, mitigation) reads these lines, so the field
names are a contract: change them only together with :data:`RECORD_VERSION`.

Field reference (per prompt)
----------------------------
``record_version``
    Format version of this line.
``id``, ``language``, ``task``, ``item_id``, ``split``
    The prompt's identity and group. ``item_id`` links parallel prompts across
    languages (``None`` when the set is not parallel).
``prompt``
    The prompt text as given (before any chat template).
``prompt_ids``
    The token ids actually fed to the models (after the chat template, if any).
``output_ids``, ``output_text``
    Tokens emitted by speculative decoding and their decoded text.
``stop_reason``
    ``"eos"`` or ``"max_new_tokens"``.
``steps``
    One :class:`StepRecord` per speculative step (one target verify forward).
``prefill_time_s``
    Wall time of the speculative run's prefill (target and drafter).
``spec_time_s``
    Wall time of the whole speculative run, prefill included.
``baseline_output_ids``, ``baseline_time_s``, ``baseline_prefill_time_s``
    The same prompt decoded plainly by the target alone (same number of new
    tokens), its wall time, prefill included, and its prefill time.
``lossless``
    Greedy mode: whether ``output_ids == baseline_output_ids``. ``None`` in
    sampling mode, where the two runs draw different samples.
``draft_forward_s``, ``target_forward_s``
    Mean wall time of one drafter forward (one drafted token, cache in use)
    and of one target forward in plain decoding (one token). Their ratio is
    the forward-cost ratio c of method.md section 4.
``c``
    ``draft_forward_s / target_forward_s``, this prompt's measured
    forward-cost ratio (0 for an n-gram drafter that never ran).
``n_draft_forwards``
    Number of drafter forwards behind ``draft_forward_s``.
``forward_time_s``
    Time the speculative run spent inside model forwards (drafter and target,
    prefill included); ``spec_time_s - forward_time_s`` is engine overhead.
``output_chars``, ``prompt_chars``
    Character counts, for tokens-per-character and characters-per-second.
``seed``
    The per-prompt seed derived from the run seed and the prompt id.
``reference``
    The prompt's expected output (e.g. a reference translation) as given in
    the prompt set, for quality metrics such as chrF; ``None`` when the set
    has none. Optional when reading: lines written before it existed lack it.
``device_name``
    The kind of device that decoded and timed this prompt: the GPU's name, or
    ``cpu (<CPU model>)``. Shards of one run can differ; metrics then note
    that groups were timed on different hardware. Optional when reading, like
    ``reference``.

Field reference (per step)
--------------------------
``drafted``
    gamma_t, tokens the drafter proposed (may be below gamma, or 0 for an
    n-gram drafter on an unseen context).
``accepted``
    n_t <= drafted, drafts accepted before the first rejection.
``rejected``
    Whether a draft was rejected in this step.
``emitted``
    Tokens this step added to the output: ``accepted + 1`` (the accepted
    drafts and the target's own token), except in a step whose accepted
    drafts include end-of-sequence, which ends the output there
    (``emitted == accepted``, ``rejected`` false).
``draft_time_s``, ``verify_time_s``
    Wall time of drafting and of the target's verify forward plus acceptance.
``position_accepted``
    Accept flag of each *verified* draft position, i.e. positions
    1..accepted+rejected: ``True`` for accepted drafts, ``False`` for the
    first rejected one. Drafts after the first rejection were never verified
    (method.md section 3) and have no entry.
``alpha``, ``cross_entropy``, ``kl``
    Per verified position (aligned with ``position_accepted``): the
    distributional acceptance sum_x min(p, q), the cross-entropy
    -sum_x p log q and KL(p||q), computed from the logits of the verify pass
    at the divergence temperature (1.0 unless configured).
"""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

__all__ = ["RECORD_VERSION", "PromptRecord", "StepRecord"]

#: Version of the per-prompt JSON format. Bump on any change of meaning.
RECORD_VERSION = 1


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One speculative step: draft, one verify forward, accept, roll back."""

    drafted: int
    accepted: int
    rejected: bool
    emitted: int
    draft_time_s: float
    verify_time_s: float
    position_accepted: list[bool]
    alpha: list[float]
    cross_entropy: list[float]
    kl: list[float]


@dataclass(slots=True)
class PromptRecord:
    """Everything measured for one prompt; one line of ``records.jsonl``."""

    id: str
    language: str
    task: str
    item_id: str | None
    split: str | None
    prompt: str
    prompt_ids: list[int]
    output_ids: list[int]
    output_text: str
    stop_reason: str
    steps: list[StepRecord]
    prefill_time_s: float
    spec_time_s: float
    baseline_output_ids: list[int]
    baseline_time_s: float
    baseline_prefill_time_s: float
    lossless: bool | None
    draft_forward_s: float
    target_forward_s: float
    c: float
    n_draft_forwards: int
    forward_time_s: float
    output_chars: int
    prompt_chars: int
    seed: int
    # Added after RECORD_VERSION 1 shipped; a default keeps older lines readable.
    reference: str | None = None
    device_name: str | None = None
    record_version: int = field(default=RECORD_VERSION)

    def to_json(self) -> str:
        """Serialise to one JSON line (no trailing newline)."""
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PromptRecord:
        """Build a record from a parsed JSON line.

        Raises
        ------
        ValueError
            If the line has another ``record_version`` or lacks a required
            field (fields with a default, such as ``reference``, are optional).
        """
        version = data.get("record_version")
        if version != RECORD_VERSION:
            raise ValueError(
                f"record_version {version!r} is not supported (this specaudit reads "
                f"{RECORD_VERSION}); re-run the audit with this version"
            )
        names = {f.name for f in fields(cls)}
        required = {f.name for f in fields(cls) if f.default is MISSING}
        missing = sorted(required - data.keys())
        if missing:
            raise ValueError(f"record lacks fields: {', '.join(missing)}")
        values = {k: data[k] for k in names if k in data}
        values["steps"] = [StepRecord(**s) for s in data["steps"]]
        return cls(**values)
