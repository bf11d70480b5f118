"""The instrumented speculative decoding loop, and plain decoding to time against.

Batch size 1. The target's KV cache always holds every confirmed token but
the last (the *pending* token), so each verify forward feeds the pending
token followed by the drafts and returns p at all draft positions plus the
bonus position in one pass.

Who makes the first output token is a convention (``first_token``). With
``"draft"`` (the default, as in Leviathan et al.) the first speculative step
drafts it from the prompt. With ``"prefill"`` the target's prefill emits it
and drafting starts at the second token, as serving engines (vLLM, SGLang)
do; its steps then line up with theirs (``docs/serving.md``).

Both decodes are also available one step at a time
(:meth:`SpeculativeEngine.speculative_steps`, :meth:`SpeculativeEngine.plain_steps`),
so that the audit can interleave a prompt's two decodes and time them over
the same stretch of the machine's time (:mod:`specaudit.audit.attempts`).
Each decode's times then count only its own steps: the time spent between
them, on the other decode, is not its own.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

import torch
from transformers import PreTrainedModel

from specaudit.audit.device import Clock
from specaudit.audit.divergence import position_divergences
from specaudit.audit.drafters.base import Drafter, ForwardTimer
from specaudit.audit.forward import cache_kwargs, new_cache, prefill
from specaudit.audit.sampling import TokenSampler
from specaudit.records import StepRecord

__all__ = ["FIRST_TOKEN", "PlainOutcome", "SpeculativeEngine", "SpeculativeOutcome", "drain"]

#: Who makes the first output token: the first speculative step, or the target's prefill.
FIRST_TOKEN = ("draft", "prefill")

#: A decode run one step at a time: it yields the number of tokens emitted
#: so far after its prefill and after each step, accepts ``True`` to stop
#: early (:meth:`SpeculativeEngine.plain_steps`), and returns its outcome.
Steps = Generator[int, bool | None, "SpeculativeOutcome | PlainOutcome"]


def drain(steps: Steps):
    """Run a step-wise decode to its end and return its outcome."""
    try:
        while True:
            next(steps)
    except StopIteration as done:
        return done.value


@dataclass(frozen=True)
class SpeculativeOutcome:
    """What one speculative decode of a prompt produced and measured."""

    output_ids: list[int]
    stop_reason: str  #: "eos" or "max_new_tokens"
    steps: list[StepRecord]
    prefill_time_s: float
    total_time_s: float  #: the decode's own time, prefill included
    forward_time_s: float  #: inside model forwards, prefill included
    draft_time_s: float  #: summed over steps
    n_draft_forwards: int


@dataclass(frozen=True)
class PlainOutcome:
    """What plain target-only decoding of a prompt produced and measured."""

    output_ids: list[int]
    prefill_time_s: float
    total_time_s: float  #: the decode's own time, prefill included
    step_times_s: list[float]  #: wall time of each decode step (one token each)

    @property
    def forward_s(self) -> float:
        """Mean wall time of one decode step (one token, cache in use)."""
        n = len(self.output_ids)
        return (self.total_time_s - self.prefill_time_s) / n if n else float("nan")


class SpeculativeEngine:
    """Runs speculative and plain decoding of single prompts.

    Parameters
    ----------
    target : PreTrainedModel
        The verifier, on its device, in eval mode.
    drafter : Drafter
        Proposes drafts in the target's vocabulary.
    gamma : int
        Draft length per step (>= 1).
    eos_ids : set of int
        Tokens that end generation.
    divergence_temperature : float
        Temperature of the per-position alpha, cross-entropy and KL.
    first_token : {"draft", "prefill"}
        Who makes the first output token (see the module docstring). With
        ``"prefill"`` it is part of the prefill time and of no step.
    """

    def __init__(
        self,
        target: PreTrainedModel,
        drafter: Drafter,
        *,
        gamma: int,
        eos_ids: set[int],
        divergence_temperature: float = 1.0,
        first_token: str = "draft",
    ) -> None:
        if gamma < 1:
            raise ValueError(f"gamma must be at least 1, got {gamma}")
        if first_token not in FIRST_TOKEN:
            raise ValueError(f"first_token must be one of {FIRST_TOKEN}, got {first_token!r}")
        self.first_token = first_token
        self.target = target
        self.drafter = drafter
        self.gamma = gamma
        self.eos_ids = set(eos_ids)
        self.divergence_temperature = divergence_temperature
        self.device = target.device
        self.clock = Clock(self.device)

    def _target(self, ids: list[int], cache, timer: ForwardTimer) -> torch.Tensor:
        with timer:
            out = self.target(
                input_ids=torch.tensor([ids], device=self.device),
                use_cache=True,
                **cache_kwargs(self.target, cache),
            )
        return out.logits[0]  # (len(ids), V)

    def speculative(
        self, prompt_ids: list[int], max_new_tokens: int, sampler: TokenSampler
    ) -> SpeculativeOutcome:
        """Decode ``prompt_ids`` speculatively and record every step."""
        return drain(self.speculative_steps(prompt_ids, max_new_tokens, sampler))

    @torch.inference_mode()
    def speculative_steps(
        self, prompt_ids: list[int], max_new_tokens: int, sampler: TokenSampler
    ) -> Steps:
        """:meth:`speculative`, one step at a time (see :data:`Steps`)."""
        clock, drafter = self.clock, self.drafter
        timer = ForwardTimer(clock)
        start = clock()
        cache = new_cache(self.target)
        with timer:
            prefill(self.target, prompt_ids[:-1], cache)
        drafter.begin(prompt_ids, timer)
        ids, out, steps = list(prompt_ids), [], []
        stop, draft_total = "max_new_tokens", 0.0
        if self.first_token == "prefill":
            # The prefill's last position gives the first token (no draft).
            token = int(sampler.choose(self._target([ids[-1]], cache, timer))[0])
            out.append(token)
            ids.append(token)
            stop = "eos" if token in self.eos_ids else stop
        prefill_s = own_s = clock() - start
        yield len(out)

        while len(out) < max_new_tokens and stop != "eos":
            # Never draft past the budget: a step emits at most k + 1 tokens.
            k = min(self.gamma, max_new_tokens - len(out) - 1)

            # 1. Draft: up to k tokens x_1..x_k' and q at each.
            t0 = clock()
            proposal = drafter.propose(ids, k, sampler) if k > 0 else None
            t1 = clock()
            drafts = proposal.tokens.tolist() if proposal is not None else []

            # 2. Verify: one target forward over [pending, x_1..x_k'] gives p
            #    at k' + 1 positions, logits (k' + 1, V).
            logits = self._target([ids[-1], *drafts], cache, timer)

            # 3. Accept: n drafts, then the target's own next token.
            draft_tensor = (
                proposal.tokens if proposal is not None else logits.new_zeros(0, dtype=torch.long)
            )
            verdict = sampler.accept(
                logits, proposal.q if proposal is not None else None, draft_tensor
            )
            n, rejected = verdict.n_accepted, verdict.rejected
            emitted = [*drafts[:n], verdict.next_token]
            # An accepted end-of-sequence ends the output: the drafts after it
            # and the target's token were never needed, so they neither count
            # as accepted nor as a rejection.
            eos_at = next((i for i, t in enumerate(drafts[:n]) if t in self.eos_ids), None)
            if eos_at is not None:
                n, rejected, emitted = eos_at + 1, False, drafts[: eos_at + 1]

            # 4. Roll back: the cache now ends with all k' drafts; drop the
            #    rejected ones. The drafter rolls its own back on next propose.
            if len(drafts) > n:
                cache.crop(n - len(drafts))

            # 5. Record: divergences at the verified positions 1..n + rejected.
            verified = n + int(rejected)
            if verified:
                alpha, ce, kl = position_divergences(
                    logits[:verified], proposal.logits[:verified], self.divergence_temperature
                )
                alpha, ce, kl = alpha.tolist(), ce.tolist(), kl.tolist()
            else:
                alpha, ce, kl = [], [], []
            t2 = clock()
            steps.append(
                StepRecord(
                    drafted=len(drafts),
                    accepted=n,
                    rejected=rejected,
                    emitted=len(emitted),
                    draft_time_s=t1 - t0,
                    verify_time_s=t2 - t1,
                    position_accepted=[True] * n + [False] * int(rejected),
                    alpha=alpha,
                    cross_entropy=ce,
                    kl=kl,
                )
            )
            draft_total += t1 - t0

            for token in emitted:
                out.append(token)
                if token in self.eos_ids:
                    stop = "eos"
                    break
            ids.extend(emitted)
            own_s += clock() - t0
            if stop != "eos":
                yield len(out)
        return SpeculativeOutcome(
            output_ids=out,
            stop_reason=stop,
            steps=steps,
            prefill_time_s=prefill_s,
            total_time_s=own_s,
            forward_time_s=timer.total_s,
            draft_time_s=draft_total,
            n_draft_forwards=drafter.n_forwards,
        )

    def plain(
        self,
        prompt_ids: list[int],
        max_new_tokens: int,
        sampler: TokenSampler,
        *,
        stop_at_eos: bool = True,
    ) -> PlainOutcome:
        """Decode ``prompt_ids`` with the target alone, one token per forward.

        ``stop_at_eos=False`` decodes exactly ``max_new_tokens`` tokens, so a
        sampling-mode baseline covers as many tokens as the speculative run.
        """
        return drain(self.plain_steps(prompt_ids, max_new_tokens, sampler, stop_at_eos=stop_at_eos))

    @torch.inference_mode()
    def plain_steps(
        self,
        prompt_ids: list[int],
        max_new_tokens: int,
        sampler: TokenSampler,
        *,
        stop_at_eos: bool = True,
    ) -> Steps:
        """:meth:`plain`, one step at a time (see :data:`Steps`).

        Sending ``True`` ends the decode before its next step: an interleaved
        sampling-mode baseline learns how many tokens to cover only when the
        speculative decode beside it ends.
        """
        clock = self.clock
        timer = ForwardTimer(clock)
        start = clock()
        cache = new_cache(self.target)
        with timer:
            prefill(self.target, prompt_ids[:-1], cache)
        prefill_s = own_s = clock() - start
        pending, out, step_times = prompt_ids[-1], [], []
        stop = yield 0
        while len(out) < max_new_tokens and not stop:
            t0 = clock()
            logits = self._target([pending], cache, timer)  # (1, V)
            token, _ = sampler.choose(logits)
            pending = int(token)
            out.append(pending)
            # Per-step times feed the cost model (metrics.costmodel): a median
            # over single forwards is immune to a stall that a total is not.
            t1 = clock()
            step_times.append(t1 - t0)
            own_s += t1 - t0
            if stop_at_eos and pending in self.eos_ids:
                break
            stop = yield len(out)
        return PlainOutcome(
            output_ids=out,
            prefill_time_s=prefill_s,
            total_time_s=own_s,
            step_times_s=step_times,
        )
