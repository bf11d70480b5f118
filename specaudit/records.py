"""The record schema: what the decoding engine writes to ``records.jsonl``.

One :class:`PromptRecord` is written per prompt, as one JSON line. Every later
stage (metrics, reports, the gate, mitigation) reads these lines, so the field
names are a contract: change them only together with :data:`RECORD_VERSION`.
This module is the one definition of that contract. It imports neither torch
nor any other part of specaudit, so the audit (which writes records) and the
metrics (which read them as plain dicts) share it.

Versions: 1 had no per-forward plain timings and one timing per prompt;
2 adds ``plain_step_times_s``, ``timing_attempts`` and ``timing_chosen``
(re-timing and repeats, see ``docs/method.md#timing``).
Version-1 lines still load everywhere; their timing health reads as unknown.

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
    the forward-cost ratio c of docs/method.md#speedup.
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
``plain_step_times_s``
    Wall time of each plain decode step (one token, cache in use) of the
    chosen plain attempt. ``None`` in version-1 lines.
``timing_attempts``
    Every timing of this prompt, as :class:`TimingAttempt` objects: the first
    decode, ``--repeats`` repeats, and re-timings of a timing outlier. Nothing
    is overwritten: the fields above mirror the chosen attempts. Empty in
    version-1 lines.
``timing_chosen``
    ``{"plain": i, "spec": j}``: the attempts whose plain and speculative
    timings the prompt-level fields and the steps' times report. ``None`` in
    version-1 lines.
``device_name``
    The kind of device that decoded and timed this prompt: the GPU's name, or
    ``cpu (<CPU model>)``. Shards of one run can differ; metrics then note
    that groups were timed on different hardware. Optional when reading, like
    ``reference``.
``drafter``, ``gamma``
    Routed runs only (``specaudit run --routing``): the name, in the routing
    file, of the drafter that decoded this prompt (``"none"`` for no
    speculation) and its draft length (0 for none). ``None`` in other runs,
    whose one drafter and gamma are in ``config.yaml``. Optional when
    reading; adding them changed no version.

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
    (docs/method.md#acceptance) and have no entry.
``alpha``, ``cross_entropy``, ``kl``
    Per verified position (aligned with ``position_accepted``): the
    distributional acceptance sum_x min(p, q), the cross-entropy
    -sum_x p log q and KL(p||q), computed from the logits of the verify pass
    at the divergence temperature (1.0 unless configured).
"""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from typing import Any

__all__ = [
    "PROMPT_FIELDS",
    "READABLE_VERSIONS",
    "RECORD_VERSION",
    "STEP_FIELDS",
    "PromptRecord",
    "StepRecord",
    "TimingAttempt",
    "apply_choice",
]

#: Version of the per-prompt JSON format written now. Bump on any change of meaning.
RECORD_VERSION = 2
#: Versions every reader accepts.
READABLE_VERSIONS = (1, 2)

#: Prompt-level fields the metrics need (present in every readable version).
PROMPT_FIELDS = (
    "id",
    "language",
    "task",
    "item_id",
    "steps",
    "output_ids",
    "output_chars",
    "spec_time_s",
    "baseline_time_s",
    "draft_forward_s",
    "target_forward_s",
    "n_draft_forwards",
)
#: Step-level fields the metrics need.
STEP_FIELDS = ("drafted", "accepted", "rejected", "alpha", "cross_entropy", "kl")


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


@dataclass(frozen=True, slots=True)
class TimingAttempt:
    """One timing of a prompt: its plain and its speculative decode, timed together.

    The run's ``timing`` setting says how: interleaved step by step (each
    decode's times count only its own steps) or back to back
    (:mod:`specaudit.audit.attempts`).

    The tokens are not stored again: greedy decoding (and sampling with the
    prompt's seeds) reproduces them, and the runner checks that an attempt's
    step counts equal the record's before keeping it.
    """

    reason: str  #: "initial", "repeat" or "retime"
    order: str  #: "plain-first" or "spec-first": who went first (interleaved: on ties)
    plain_time_s: float  #: plain decode, prefill included
    plain_prefill_time_s: float
    plain_step_times_s: list[float]  #: one per plain decode step
    spec_time_s: float  #: speculative decode, prefill included
    spec_prefill_time_s: float
    draft_times_s: list[float]  #: per speculative step
    verify_times_s: list[float]  #: per speculative step
    forward_time_s: float  #: inside model forwards, speculative decode
    load_1m: float | None = None  #: the OS's 1-minute load average when the attempt began
    cpu_steal: float | None = None  #: share of CPU time stolen by the hypervisor during it
    #: Whether it decoded the record's tokens in the record's steps; one that
    #: did not (a numerical near-tie resolved differently) is never chosen.
    reproduced: bool = True
    #: Seconds a re-timing waited for other processes to leave the CPUs idle.
    quiet_wait_s: float | None = None
    #: CPU seconds other processes used during each decode (None where the
    #: OS does not say, and in records written before they were measured).
    plain_others_cpu_s: float | None = None
    spec_others_cpu_s: float | None = None


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
    # Routed runs only (``run --routing``); optional, so the version is unchanged.
    drafter: str | None = None
    gamma: int | None = None
    # Added in RECORD_VERSION 2 (None / empty in version-1 lines).
    plain_step_times_s: list[float] | None = None
    timing_attempts: list[TimingAttempt] = field(default_factory=list)
    timing_chosen: dict[str, int] | None = None
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
        if version not in READABLE_VERSIONS:
            raise ValueError(
                f"record_version {version!r} is not supported (this specaudit reads "
                f"{', '.join(map(str, READABLE_VERSIONS))}); re-run the audit with this version"
            )
        names = {f.name for f in fields(cls)}
        required = {
            f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING
        }
        missing = sorted(required - data.keys())
        if missing:
            raise ValueError(f"record lacks fields: {', '.join(missing)}")
        values = {k: data[k] for k in names if k in data}
        values["steps"] = [StepRecord(**s) for s in data["steps"]]
        values["timing_attempts"] = [TimingAttempt(**a) for a in data.get("timing_attempts", [])]
        return cls(**values)


def apply_choice(record: PromptRecord, *, plain: int, spec: int) -> PromptRecord:
    """Make ``record``'s timing fields mirror its attempts number ``plain`` and ``spec``.

    Tokens, steps and counts stay as they are (every kept attempt reproduces
    them); the prompt-level times, each step's draft and verify times and the
    derived per-forward means are set from the chosen attempts, and
    ``timing_chosen`` says which they are. Returns a new record.
    """
    attempts = record.timing_attempts
    p, s = attempts[plain], attempts[spec]
    n_plain = len(p.plain_step_times_s)
    n_fwd = record.n_draft_forwards
    draft_forward_s = sum(s.draft_times_s) / n_fwd if n_fwd else 0.0
    target_forward_s = (p.plain_time_s - p.plain_prefill_time_s) / n_plain if n_plain else 0.0
    steps = [
        replace(step, draft_time_s=d, verify_time_s=v)
        for step, d, v in zip(record.steps, s.draft_times_s, s.verify_times_s, strict=True)
    ]
    return replace(
        record,
        steps=steps,
        prefill_time_s=s.spec_prefill_time_s,
        spec_time_s=s.spec_time_s,
        forward_time_s=s.forward_time_s,
        baseline_time_s=p.plain_time_s,
        baseline_prefill_time_s=p.plain_prefill_time_s,
        plain_step_times_s=list(p.plain_step_times_s),
        draft_forward_s=draft_forward_s,
        target_forward_s=target_forward_s,
        c=draft_forward_s / target_forward_s if target_forward_s else 0.0,
        timing_chosen={"plain": plain, "spec": spec},
    )
