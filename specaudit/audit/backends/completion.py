"""One served completion and the record built from a speculative and a plain one.

Serving engines report per request only how many tokens each speculative step
drafted and accepted, and the request's timestamps. The fields that need the
two models' distributions (alpha = sum min(p, q), cross-entropy, KL per
position) and per-forward timings are written as ``null``: the metrics then
say "not available for this backend" instead of showing a zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from specaudit.audit.attempts import derive_seed
from specaudit.audit.prompts import Prompt
from specaudit.records import PromptRecord, StepRecord

__all__ = ["Completion", "build_record", "steps_from_counts"]


@dataclass(frozen=True)
class Completion:
    """What a serving engine returned for one request.

    Attributes
    ----------
    output_ids : list of int
        The generated token ids.
    text : str
        Their text as the engine decoded it.
    finish_reason : str
        ``"eos"`` or ``"max_new_tokens"``.
    total_s : float
        Request time from its start (or the engine's scheduling of it) to its
        last token, prefill included.
    prefill_s : float or None
        Time to the first token, where the engine reports it.
    drafted, accepted : list of int or None
        Drafted and accepted tokens of each speculative step; ``None`` for a
        plain request.
    """

    output_ids: list[int]
    text: str
    finish_reason: str
    total_s: float
    prefill_s: float | None = None
    drafted: list[int] | None = None
    accepted: list[int] | None = None
    extra: dict = field(default_factory=dict)


def steps_from_counts(
    drafted: list[int],
    accepted: list[int],
    n_emitted: int | None = None,
    budget: int | None = None,
) -> list[StepRecord]:
    """Step records from per-step drafted and accepted counts.

    A step emits its accepted drafts and the target's own token. The
    distributional fields and the per-step times are ``None``: a serving
    engine does not report them.

    Steps are counted as the native engine would make them from the same
    acceptance decisions, so the two engines' acceptance compares:

    - engines count the drafts a step accepted even past the end of the
      output (an end-of-sequence inside the accepted drafts, or the token
      limit), so ``n_emitted``, the tokens the steps produced, cuts the last
      steps: a step that reaches the end emits only what is left, like the
      native engine's step that accepts end-of-sequence (``emitted ==
      accepted``, not rejected), and steps after it are dropped;
    - with ``budget``, the tokens the steps may make in all, a step counts
      only the drafts that fit before the budget's last token, which is
      always the target's own: the native engine never drafts past it,
      while a serving engine drafts all γ and discards the rest.

    Raises
    ------
    ValueError
        If the lists differ in length or a step accepts more than it drafted.
    """
    if len(drafted) != len(accepted):
        raise ValueError(
            f"per-step drafted ({len(drafted)}) and accepted ({len(accepted)}) differ in length"
        )
    total = sum(a + 1 for a in accepted) if n_emitted is None else n_emitted
    steps, produced = [], 0
    for d, a in zip(drafted, accepted, strict=True):
        if not 0 <= a <= d:
            raise ValueError(f"a step accepted {a} of {d} drafts")
        left = total - produced
        if left <= 0:
            break
        if budget is not None:
            d = min(d, max(budget - produced - 1, 0))
            a = min(a, d)
        ended = left <= a  # the output ends inside this step's accepted drafts
        a = min(a, left)
        emitted = a if ended else a + 1
        rejected = a < d and not ended
        steps.append(
            StepRecord(
                drafted=int(d),
                accepted=int(a),
                rejected=rejected,
                emitted=int(emitted),
                draft_time_s=None,
                verify_time_s=None,
                position_accepted=[True] * a + [False] * rejected,
                alpha=None,
                cross_entropy=None,
                kl=None,
            )
        )
        produced += emitted
    return steps


def build_record(
    prompt: Prompt,
    ids: list[int],
    spec: Completion,
    plain: Completion | None,
    *,
    greedy: bool,
    seed: int,
    device_name: str,
    neural_drafter: bool,
    max_new_tokens: int | None = None,
) -> PromptRecord:
    """Build the record of one prompt from its speculative and (optional) plain completion.

    ``lossless`` compares the two outputs token for token in greedy mode; a
    mismatch is recorded, never raised (batched serving can break ties
    differently, see ``docs/serving.md``). Without a plain completion the
    baseline fields are empty and every speed-up reads as undefined.
    ``max_new_tokens`` is the request's token limit (see
    :func:`steps_from_counts`).
    """
    if spec.drafted is None or spec.accepted is None:
        raise ValueError("the speculative completion carries no per-step counts")
    # The first token comes from the prefill, not from a speculative step.
    budget = max_new_tokens - 1 if max_new_tokens is not None else None
    steps = steps_from_counts(
        spec.drafted, spec.accepted, max(len(spec.output_ids) - 1, 0), budget=budget
    )
    drafted = sum(spec.drafted)
    lossless = (spec.output_ids == plain.output_ids) if greedy and plain is not None else None
    return PromptRecord(
        **prompt.record_fields(),
        prompt_ids=list(ids),
        output_ids=list(spec.output_ids),
        output_text=spec.text,
        stop_reason=spec.finish_reason,
        steps=steps,
        prefill_time_s=spec.prefill_s,
        spec_time_s=spec.total_s,
        baseline_output_ids=list(plain.output_ids) if plain is not None else [],
        baseline_time_s=plain.total_s if plain is not None else None,
        baseline_prefill_time_s=plain.prefill_s if plain is not None else None,
        lossless=lossless,
        # Per-forward costs are not reported by serving engines.
        draft_forward_s=None,
        target_forward_s=None,
        c=None,
        # A neural drafter runs one forward per drafted token; lookup drafters none.
        n_draft_forwards=drafted if neural_drafter else 0,
        forward_time_s=None,
        output_chars=len(spec.text),
        prompt_chars=len(prompt.prompt),
        seed=derive_seed(seed, prompt.id, "spec"),
        device_name=device_name,
    )
