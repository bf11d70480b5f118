"""Re-timing of timing outliers, after every prompt of a process is decoded.

The cost model is fitted on this process's own records, outliers are
flagged against it (:mod:`specaudit.metrics.timing`), and each outlier is
timed again, plain and speculative together as the run timed them
(interleaved or back to back, :mod:`specaudit.audit.attempts`) with the order
alternated, up to ``config.retime`` times. Back to back, so is a prompt
during one of whose decodes other processes used the CPUs
(:func:`specaudit.audit.machine_load.contended`): a co-tenant's burst slows
a decode by less than the outlier fence as often as by more, and a
slow-down under the fence would otherwise stay in the figures. Interleaved,
it slows both decodes alike and leaves the prompt's speed-up as it was;
re-timing such a prompt would only add what a re-timing itself does to a
speed-up (on the demo machine beside a bursty neighbour, chosen re-timings
came out 4-6% lower than the same prompts' quiet timings, against 1-2% for
their first, contended timings: ``bench/RESULTS.md``, "Interleaved
timing"), so an interleaved run re-times outliers only.

Before each re-timing the pass waits (up to 8 s) until other processes
leave the CPUs idle: timing a prompt again in the middle of the
burst that slowed it would only slow it again; and after the wait, an
untimed warm-up (:func:`specaudit.audit.attempts.warm_up`), since the first
decode after a pause runs slow, and re-timings would otherwise all be
biased towards a slower first decode. The first attempt whose two decodes
both agree with the model, with no other process busy, is chosen; if none
does, the attempt closest to the model is. Where most prompts were timed
beside other processes (sibling shards on one machine, a machine busy
throughout), contention is the run's normal state, which re-timing cannot
escape: then only outliers are re-timed.

Re-timing tightens the fence (the spread shrinks once stalls are gone), so
the pass looks again after each round, and a prompt whose chosen attempt
the tighter fence flags is timed again, as long as it has had fewer than
``config.retime`` re-timings in all. Every attempt stays in the record, and
the records file is rewritten atomically after each re-timed prompt, so a
killed pass resumes where it stopped: a prompt keeps the attempts it had,
and they count towards its limit.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import numpy as np

from specaudit.audit.attempts import order_for, time_prompt, warm_up
from specaudit.audit.engine import SpeculativeEngine
from specaudit.audit.machine_load import contended, wait_for_quiet
from specaudit.audit.rundir import RunDir
from specaudit.audit.sampling import Decoding
from specaudit.metrics.costmodel import CostModel, cost_key
from specaudit.metrics.step_stalls import decode_excess
from specaudit.metrics.timing import timing_assessment
from specaudit.records import RECORD_VERSION, PromptRecord, TimingAttempt, apply_choice

__all__ = ["RetimeSummary", "attempt_contended", "retime_outliers"]

RETIME = "retime"
#: Tokens of the warm-up decodes before each re-timing. Two and eight undo a
#: pause alike within the noise of ``bench/warmup.py`` (attempts.warm_up),
#: and two cost a quarter as much, on up to three re-timings per prompt.
RETIME_WARM_TOKENS = 2
#: Above this share of a process's prompts timed beside other processes,
#: contention is the run's normal state and does not trigger re-timing. A
#: neighbour busy a quarter of the time, in bursts, touches about half the
#: prompts (each prompt's two decodes last about a second); sibling shards,
#: or a machine busy throughout, touch nearly all.
MAX_CONTENDED_SHARE = 0.8


@dataclass(frozen=True)
class RetimeSummary:
    """What a re-timing pass found and did."""

    n_flagged: int  #: prompts with an outlier decode, or timed beside other processes
    n_retimed: int  #: prompts timed again by this pass
    n_agreed: int  #: of those, prompts whose last round found an attempt that agrees
    attempts: int  #: re-timings done by this pass


@dataclass(frozen=True)
class _Fence:
    """What one prompt's times must stay under to agree with the model.

    An attempt is judged as the metrics judge the chosen one: its stalled
    steps trimmed first (:mod:`specaudit.metrics.step_stalls`).
    """

    plain_s: float
    spec_s: float
    model: CostModel
    step_fences: dict[str, float]
    drafted: list[int]

    def residual(self, attempt: TimingAttempt) -> float:
        """Largest log excess of the two trimmed decodes over their limits (<= 0 agrees)."""
        plain_x, spec_x, _ = decode_excess(
            self.model,
            plain_step_times=attempt.plain_step_times_s,
            draft_times=attempt.draft_times_s,
            verify_times=attempt.verify_times_s,
            drafted=self.drafted,
            fences=self.step_fences,
        )
        # Where a run has too few prompts to draw a fence it is infinite, and
        # every attempt agrees (log 0 = -inf) on its timing; contention still counts.
        with np.errstate(divide="ignore"):
            return max(
                np.log((attempt.plain_time_s - plain_x) / self.plain_s),
                np.log((attempt.spec_time_s - spec_x) / self.spec_s),
            )

    def agrees(self, attempt: TimingAttempt) -> bool:
        """Whether an attempt reproduced the record, stayed under the fences, uncontended."""
        return attempt.reproduced and not attempt_contended(attempt) and self.residual(attempt) <= 0


def _decode_contended(attempt: TimingAttempt, kind: str) -> bool:
    """Whether other processes used the CPUs during an attempt's plain or spec decode."""
    return contended(getattr(attempt, f"{kind}_others_cpu_s"), getattr(attempt, f"{kind}_time_s"))


def attempt_contended(attempt: TimingAttempt) -> bool:
    """Whether other processes used the CPUs during either decode of an attempt."""
    return _decode_contended(attempt, "plain") or _decode_contended(attempt, "spec")


def _chosen_contended(record: PromptRecord) -> bool:
    """Whether the attempt chosen for either of a record's decodes was contended."""
    if not record.timing_attempts:
        return False
    return any(
        _decode_contended(record.timing_attempts[record.timing_chosen.get(kind, 0)], kind)
        for kind in ("plain", "spec")
    )


def retime_outliers(
    engine: SpeculativeEngine,
    decoding: Decoding,
    run_dir: RunDir,
    prompts: dict[str, tuple[int, list[int]]],
    *,
    seed: int,
    max_new_tokens: int,
    max_attempts: int,
    device,
    timing: str = "interleaved",
    report: Callable[[str], None] = print,
    before_first: Callable[[], None] = lambda: None,
    engines: Mapping[str, SpeculativeEngine] | None = None,
) -> RetimeSummary:
    """Re-time this process's outlier prompts in ``run_dir``.

    Parameters
    ----------
    engine, decoding
        The run's engine and decoding settings.
    run_dir : RunDir
        This process's view of the run directory.
    prompts : dict
        Prompt id to (run index, token ids), for the prompts of this process.
    seed, max_new_tokens
        The run's seed and token budget.
    max_attempts : int
        Re-timings per prompt at most (0 turns the pass off).
    device
        The torch device.
    timing : str
        How each attempt times the two decodes (:data:`~specaudit.audit.attempts.TIMING_MODES`).
    report : callable
        Receives one line per re-timed prompt.
    before_first : callable
        Called once before the first re-timing (e.g. an untimed warm-up when
        a resumed run decoded nothing in this process).
    engines : mapping, optional
        Prompt id to its own engine (a routed run); ``engine`` otherwise.
    """
    raw = run_dir.read_records()
    if max_attempts < 1 or not raw:
        return RetimeSummary(0, 0, 0, 0)
    records = [PromptRecord.from_dict(r) for r in raw]
    lines = [r.to_json() for r in records]
    agreed_last: dict[str, bool] = {}  # re-timed prompt -> whether its last round agreed
    n_flagged = n_attempts = 0
    retimable = [i for i, r in enumerate(records) if _can_retime(r, prompts, max_attempts)]
    busy_share = sum(_chosen_contended(records[i]) for i in retimable) / max(len(retimable), 1)
    # Interleaved, a co-tenant's burst slows a prompt's two decodes alike and
    # leaves its speed-up as it was; only back to back does it call for a re-timing.
    sequential = timing == "sequential"
    watch_contention = sequential and busy_share <= MAX_CONTENDED_SHARE
    if sequential and busy_share > MAX_CONTENDED_SHARE:
        report(
            f"{busy_share:.0%} of {len(retimable)} prompts were timed beside other processes: "
            "contention is this run's normal state, so only timing outliers are re-timed"
        )
    # Re-timing tightens the fence (the spread shrinks once stalls are gone),
    # which can flag prompts an earlier look passed: look again until a look
    # finds nothing to do, so the run ends judged as its metrics will judge
    # it. Each look adds an attempt to every prompt it re-times, and a prompt
    # has at most max_attempts re-timings, so the looks end.
    while True:
        assessment = timing_assessment(raw)
        flags = assessment.flags
        busy = {i for i, r in enumerate(records) if watch_contention and _chosen_contended(r)}
        todo = [
            i
            for i in sorted(set(np.flatnonzero(flags.any)) | busy)
            if _can_retime(records[i], prompts, max_attempts)
        ]
        if not todo:
            break
        n_flagged += len({records[i].id for i in todo} - agreed_last.keys())
        for i in todo:
            record = records[i]
            if not agreed_last:
                before_first()
            index, ids = prompts[record.id]
            fence = _Fence(
                plain_s=float(
                    assessment.plain_model_s[i]
                    * np.exp(flags.plain_offset[i] + flags.fence["plain"])
                ),
                spec_s=float(
                    assessment.spec_model_s[i] * np.exp(flags.spec_offset[i] + flags.fence["spec"])
                ),
                model=assessment.models[cost_key(raw[i])],
                step_fences=assessment.trim.fences,
                drafted=[s.drafted for s in record.steps],
            )
            record, agreed, made = _retime(
                engines.get(record.id, engine) if engines else engine,
                decoding,
                record,
                fence,
                index=index,
                ids=ids,
                seed=seed,
                max_new_tokens=max_new_tokens,
                max_attempts=max_attempts - _retimings(record),
                device=device,
                timing=timing,
            )
            records[i], lines[i] = record, record.to_json()
            raw[i] = json.loads(lines[i])
            run_dir.rewrite(lines)
            agreed_last[record.id] = agreed
            n_attempts += made
            chosen = record.timing_chosen
            why = "timed beside other processes" if i in busy and not flags.any[i] else "outlier"
            report(
                f"re-timed {record.id!r} ({why}): {made} attempt(s), "
                f"{'agrees with' if agreed else 'no quiet attempt agreed with'} the cost model "
                f"(chose plain #{chosen['plain']}, speculative #{chosen['spec']})"
            )
    return RetimeSummary(n_flagged, len(agreed_last), sum(agreed_last.values()), n_attempts)


def _retimings(record: PromptRecord) -> int:
    """How many times a prompt has been re-timed (by this pass or a killed one)."""
    return sum(a.reason == RETIME for a in record.timing_attempts)


def _can_retime(record: PromptRecord, prompts: dict, max_attempts: int) -> bool:
    """Version-2 records of this process with re-timings left.

    Version-1 lines hold no attempts; a resumed pass counts the re-timings a
    killed one made, so it never exceeds the limit.
    """
    return (
        record.record_version == RECORD_VERSION
        and record.id in prompts
        and _retimings(record) < max_attempts
    )


def _retime(
    engine: SpeculativeEngine,
    decoding: Decoding,
    record: PromptRecord,
    fence: _Fence,
    *,
    index: int,
    ids: list[int],
    seed: int,
    max_new_tokens: int,
    max_attempts: int,
    device,
    timing: str,
) -> tuple[PromptRecord, bool, int]:
    """Time ``record``'s prompt again until an attempt agrees; return it, agreed, attempts."""
    for made in range(1, max_attempts + 1):
        waited = wait_for_quiet()
        warm_up(engine, decoding, ids, rounds=1, max_new_tokens=RETIME_WARM_TOKENS)
        timed = time_prompt(
            engine,
            decoding,
            seed=seed,
            prompt_id=record.id,
            ids=ids,
            max_new_tokens=max_new_tokens,
            order=order_for(index, len(record.timing_attempts)),
            reason=RETIME,
            device=device,
            timing=timing,
        )
        reproduced = _reproduces(record, timed)
        record.timing_attempts.append(
            replace(timed.attempt, reproduced=reproduced, quiet_wait_s=waited)
        )
        if fence.agrees(record.timing_attempts[-1]):
            last = len(record.timing_attempts) - 1
            return apply_choice(record, plain=last, spec=last), True, made
    # None agreed: keep the attempt closest to the model (the first ones included).
    usable = [j for j, a in enumerate(record.timing_attempts) if a.reproduced]
    best = min(usable, key=lambda j: fence.residual(record.timing_attempts[j]))
    return apply_choice(record, plain=best, spec=best), False, max_attempts


def _reproduces(record: PromptRecord, timed) -> bool:
    """Whether a re-timing decoded the record's tokens in the record's steps."""
    return (
        timed.spec.output_ids == record.output_ids
        and timed.plain.output_ids == record.baseline_output_ids
        and [(s.drafted, s.accepted) for s in timed.spec.steps]
        == [(s.drafted, s.accepted) for s in record.steps]
    )
