"""Timing one prompt: a plain and a speculative decode, as one attempt.

The two decodes are interleaved step by step (the default) or run back to
back. Interleaved, each decode advances when it has emitted no more tokens
than the other, so the two cover the same stretch of wall time in slices of
a forward or two, and each counts only its own slices. A change of the
machine's speed that lasts longer than a step (a co-tenant's burst, a clock
or frequency change, a hypervisor's slow patch) then slows both decodes
alike and leaves their ratio, the prompt's speed-up, unchanged. Back to
back, it lands on one decode and not the other: on the 2-core demo machine,
whose speed drifted by 10-30% within seconds, the log ratio of a prompt's
measured to modelled speed-up scattered by 7.4% back to back and by 4.3-4.7%
interleaved, in quiet default audits (``bench/RESULTS.md``, "Interleaved
timing").

Every timing of a prompt is kept in its record (``timing_attempts``): the
first, any ``--repeats``, and re-timings of an outlier
(:mod:`specaudit.audit.retime`). The record's times mirror the chosen
attempts (:func:`specaudit.records.apply_choice`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import torch

from specaudit.audit.engine import PlainOutcome, SpeculativeEngine, SpeculativeOutcome, Steps
from specaudit.audit.machine_load import cpu_clock, others_cpu_s, sample_load, steal_share
from specaudit.audit.sampling import Decoding, TokenSampler
from specaudit.records import TimingAttempt

__all__ = [
    "TIMING_MODES",
    "Timed",
    "choose_median",
    "derive_seed",
    "interleave",
    "order_for",
    "same_work",
    "time_prompt",
    "warm_up",
]

PLAIN_FIRST, SPEC_FIRST = "plain-first", "spec-first"
#: How a prompt's two decodes share the machine: step by step, or one after the other.
TIMING_MODES = ("interleaved", "sequential")
#: Tokens of each untimed warm-up decode.
WARM_TOKENS = 8


def derive_seed(seed: int, prompt_id: str, stream: str) -> int:
    """Derive a per-prompt seed from the run seed and the prompt id alone.

    Resumed runs, reordered prompt sets and re-timings therefore draw the
    same samples.
    """
    digest = hashlib.sha256(f"{seed}\x00{prompt_id}\x00{stream}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def warm_up(
    engine: SpeculativeEngine,
    decoding: Decoding,
    ids: list[int],
    *,
    rounds: int,
    max_new_tokens: int,
) -> None:
    """Untimed short decodes, speculative then plain, so that the next timed one runs warm.

    The first decode after the process has idled runs slow: its thread pool
    has gone to sleep and its caches have cooled. On the 2-core demo machine
    (``python bench/warmup.py``), a plain decode right after a 0.5 s pause
    took 4.5% longer than the one after it (standard error 1.3%); after a
    2-token warm-up decode of each kind, 2.1% (1.8%), and after 8-token ones
    -1.4% (1.7%). So the run warms up before its first prompt (``--warmup``
    rounds of 8 tokens, which also absorb the first call's one-off costs),
    and a re-timing after each wait for quiet CPUs
    (:mod:`specaudit.audit.retime`, one round of 2 tokens).

    Parameters
    ----------
    engine, decoding
        The engine to warm, and the run's decoding settings.
    ids : list of int
        A prompt's token ids.
    rounds : int
        Speculative-and-plain pairs to run (0 runs none).
    max_new_tokens : int
        Tokens per decode, at most ``WARM_TOKENS``.
    """
    tokens = min(WARM_TOKENS, max_new_tokens)
    for i in range(rounds):
        g = torch.Generator(device=engine.device).manual_seed(i)
        engine.speculative(ids, tokens, TokenSampler(decoding, g))
        engine.plain(ids, tokens, TokenSampler(decoding, g))


@dataclass(frozen=True)
class Timed:
    """One attempt's outcomes and its timing record."""

    spec: SpeculativeOutcome
    plain: PlainOutcome
    attempt: TimingAttempt


def interleave(
    plain: Steps, spec: Steps, *, lead: str, match_spec: bool
) -> tuple[PlainOutcome, SpeculativeOutcome]:
    """Run two step-wise decodes together; return (plain outcome, spec outcome).

    Both prefills come first, then the decode that has emitted fewer tokens
    takes the next step; on a tie, ``lead`` (``"plain"`` or ``"spec"``)
    does, and goes first. With ``match_spec`` the plain decode stops once it
    has emitted as many tokens as the speculative one did in all (sampling
    mode, where the two outputs differ).
    """
    decodes = {"plain": plain, "spec": spec}
    emitted = {"plain": -1, "spec": -1}  # not started: behind any decode that has
    rank = {lead: 0, "spec" if lead == "plain" else "plain": 1}
    done: dict[str, Any] = {}
    while len(done) < 2:
        kind = min((k for k in decodes if k not in done), key=lambda k: (emitted[k], rank[k]))
        stop = (
            kind == "plain"
            and match_spec
            and "spec" in done
            and emitted["plain"] >= len(done["spec"].output_ids)
        )
        try:
            emitted[kind] = decodes[kind].send(stop or None)
        except StopIteration as end:
            done[kind] = end.value
    return done["plain"], done["spec"]


def time_prompt(
    engine: SpeculativeEngine,
    decoding: Decoding,
    *,
    seed: int,
    prompt_id: str,
    ids: list[int],
    max_new_tokens: int,
    order: str,
    reason: str,
    device,
    timing: str = "interleaved",
) -> Timed:
    """Decode ``ids`` plainly and speculatively, and time both.

    ``timing`` is one of :data:`TIMING_MODES` (see the module docstring).
    ``order`` says which decode goes first: back to back, the first decode;
    interleaved, the first step at each tie. In greedy mode the order
    alternates between prompts and attempts, so an order effect (warm
    caches, clock boost) cancels like drift does. In sampling mode the plain
    decode covers as many tokens as the speculative one emitted, so back to
    back it always comes second; both use the prompt's own seeds, so a
    re-timing draws the same samples.
    """
    if timing not in TIMING_MODES:
        raise ValueError(f"timing must be one of {TIMING_MODES}, got {timing!r}")

    def sampler(stream: str) -> TokenSampler:
        g = torch.Generator(device=device).manual_seed(derive_seed(seed, prompt_id, stream))
        return TokenSampler(decoding, g)

    others: dict[str, float | None] = {}

    def watched(kind: str, decode, *args, **kwargs):
        # Other processes' CPU time during the decode witnesses a co-tenant
        # (machine_load.contended); reading the counters costs microseconds.
        start = cpu_clock()
        outcome = decode(*args, **kwargs)
        others[kind] = others_cpu_s(start, cpu_clock())
        return outcome

    before = sample_load()
    if timing == "interleaved":
        if not decoding.greedy:
            order = SPEC_FIRST
        start = cpu_clock()
        plain, spec = interleave(
            engine.plain_steps(ids, max_new_tokens, sampler("base"), stop_at_eos=decoding.greedy),
            engine.speculative_steps(ids, max_new_tokens, sampler("spec")),
            lead="plain" if order == PLAIN_FIRST else "spec",
            match_spec=not decoding.greedy,
        )
        # Both decodes shared the window: each gets the share of other
        # processes' CPU time that its own time is of the two.
        window = others_cpu_s(start, cpu_clock())
        both = plain.total_time_s + spec.total_time_s
        for kind, outcome in (("plain", plain), ("spec", spec)):
            share = outcome.total_time_s / both if both > 0 else 0.5
            others[kind] = None if window is None else window * share
    elif not decoding.greedy:
        order = SPEC_FIRST
        spec = watched("spec", engine.speculative, ids, max_new_tokens, sampler("spec"))
        n_plain = len(spec.output_ids)
        plain = watched("plain", engine.plain, ids, n_plain, sampler("base"), stop_at_eos=False)
    elif order == PLAIN_FIRST:
        plain = watched("plain", engine.plain, ids, max_new_tokens, sampler("base"))
        spec = watched("spec", engine.speculative, ids, max_new_tokens, sampler("spec"))
    else:
        spec = watched("spec", engine.speculative, ids, max_new_tokens, sampler("spec"))
        plain = watched("plain", engine.plain, ids, max_new_tokens, sampler("base"))
    after = sample_load()
    attempt = TimingAttempt(
        reason=reason,
        order=order,
        plain_time_s=plain.total_time_s,
        plain_prefill_time_s=plain.prefill_time_s,
        plain_step_times_s=plain.step_times_s,
        spec_time_s=spec.total_time_s,
        spec_prefill_time_s=spec.prefill_time_s,
        draft_times_s=[s.draft_time_s for s in spec.steps],
        verify_times_s=[s.verify_time_s for s in spec.steps],
        forward_time_s=spec.forward_time_s,
        load_1m=before.load_1m,
        cpu_steal=steal_share(before, after),
        plain_others_cpu_s=others["plain"],
        spec_others_cpu_s=others["spec"],
    )
    return Timed(spec=spec, plain=plain, attempt=attempt)


def same_work(first: Timed, other: Timed) -> bool:
    """Whether two attempts decoded the same tokens in the same steps.

    Greedy decoding, and sampling with the prompt's seeds, reproduce them; an
    attempt that does not (a numerical near-tie resolved differently) is kept
    in the record, marked ``reproduced=False``, and never chosen.
    """
    return (
        other.spec.output_ids == first.spec.output_ids
        and other.plain.output_ids == first.plain.output_ids
        and _step_counts(other.spec) == _step_counts(first.spec)
    )


def _step_counts(spec: SpeculativeOutcome) -> list[tuple[int, int]]:
    return [(s.drafted, s.accepted) for s in spec.steps]


def choose_median(times: list[float], usable: list[bool]) -> int:
    """Index of the median time among usable attempts (the lower one for an even count).

    With K repeats the median ignores up to (K - 1) // 2 stalled ones. The
    minimum would not do: it estimates a best case, not what users get, and
    how far it falls below the typical time depends on each decode's own
    variance, so min-of-K biases the plain/speculative ratio.
    """
    candidates = [i for i, ok in enumerate(usable) if ok]
    ordered = sorted(candidates, key=lambda i: times[i])
    return ordered[(len(ordered) - 1) // 2]


def order_for(index: int, attempt: int) -> str:
    """Decode order of a prompt's attempt: alternate across prompts and across attempts."""
    return PLAIN_FIRST if (index + attempt) % 2 == 0 else SPEC_FIRST
