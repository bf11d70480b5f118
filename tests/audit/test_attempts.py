"""Interleaved timing: the two decodes advance together and share the machine's time."""

from __future__ import annotations

import pytest

import specaudit.audit.engine as engine_module
from specaudit.audit.attempts import PLAIN_FIRST, SPEC_FIRST, interleave, time_prompt
from specaudit.audit.drafters.neural import NeuralDrafter
from specaudit.audit.engine import SpeculativeEngine, drain
from specaudit.audit.sampling import Decoding, TokenSampler

from ..conftest import make_model

VOCAB = 97
PROMPT = [1, 5, 9, 22, 40]


def fake(name: str, counts: list[int], trace: list[str], sent: list | None = None):
    """A step-wise decode that emits ``counts`` tokens in all after each step."""
    for n in counts[:-1]:
        trace.append(name)
        stop = yield n
        if sent is not None:
            sent.append(stop)
        if stop:
            return f"{name} stopped at {n}"
    trace.append(name)
    return f"{name} ended at {counts[-1]}"


class Out:
    """Just enough of a speculative outcome for :func:`interleave`."""

    def __init__(self, n: int) -> None:
        self.output_ids = [0] * n


def test_the_decode_behind_takes_the_next_step_and_the_lead_breaks_ties():
    trace: list[str] = []
    plain = fake("plain", [0, 1, 2, 3, 4, 5, 6, 6], trace)
    spec = fake("spec", [0, 3, 5, 6], trace)
    got = interleave(plain, spec, lead="spec", match_spec=False)
    assert got == ("plain ended at 6", "spec ended at 6")
    # The prefills (spec leads), then whichever has emitted fewer tokens, spec on ties.
    expected = ["spec", "plain", "spec", "plain", "plain", "plain"]
    expected += ["spec", "plain", "plain", "spec", "plain", "plain"]
    assert trace == expected


def test_a_sampling_baseline_stops_at_the_speculative_decodes_length():
    trace: list[str] = []
    sent: list = []
    plain = fake("plain", list(range(49)), trace, sent)

    def spec_steps():
        for n in (0, 4, 7):
            trace.append("spec")
            yield n
        trace.append("spec")
        return Out(9)

    got_plain, got_spec = interleave(plain, spec_steps(), lead="spec", match_spec=True)
    assert got_plain == "plain stopped at 9" and len(got_spec.output_ids) == 9
    assert sent[-1] is True and not any(sent[:-1])
    assert trace.count("plain") == 10  # the prefill and nine tokens


@pytest.fixture(scope="module")
def engine():
    target = make_model(VOCAB, layers=2, hidden=64, seed=0)
    drafter = NeuralDrafter(make_model(VOCAB, layers=1, hidden=32, seed=1), vocab_size=VOCAB)
    return SpeculativeEngine(target, drafter, gamma=3, eos_ids=set())


def _time(engine, decoding, timing, order=PLAIN_FIRST, n=30):
    return time_prompt(
        engine,
        decoding,
        seed=0,
        prompt_id="p",
        ids=PROMPT,
        max_new_tokens=n,
        order=order,
        reason="initial",
        device=engine.device,
        timing=timing,
    )


@pytest.mark.parametrize("decoding", [Decoding("greedy"), Decoding("sampling", temperature=0.9)])
def test_interleaving_decodes_exactly_what_back_to_back_decoding_does(engine, decoding):
    together = _time(engine, decoding, "interleaved")
    apart = _time(engine, decoding, "sequential")
    assert together.spec.output_ids == apart.spec.output_ids
    assert together.plain.output_ids == apart.plain.output_ids
    assert len(together.plain.output_ids) == len(together.spec.output_ids)
    counts = [(s.drafted, s.accepted) for s in together.spec.steps]
    assert counts == [(s.drafted, s.accepted) for s in apart.spec.steps]
    step_s = sum(together.attempt.plain_step_times_s)
    assert together.attempt.plain_prefill_time_s + step_s <= together.attempt.plain_time_s


def test_step_wise_and_whole_decodes_agree(engine):
    def greedy():
        return TokenSampler(Decoding("greedy"))

    whole = engine.speculative(PROMPT, 20, greedy())
    stepped = drain(engine.speculative_steps(PROMPT, 20, greedy()))
    assert stepped.output_ids == whole.output_ids
    assert [s.accepted for s in stepped.steps] == [s.accepted for s in whole.steps]
    assert drain(engine.plain_steps(PROMPT, 20, greedy())).output_ids == whole.output_ids


class SlowingClock:
    """A virtual clock: 1 ms per read, then ``SLOW`` ms per read after ``switch`` reads.

    A decode's virtual time is then its number of clock reads, weighted by
    the machine's speed when it made them: a machine that slows down halfway
    through a prompt's timing.
    """

    SLOW = 3.0
    reads = 0
    switch: int | None = None
    now = 0.0

    def __init__(self, device) -> None:
        self.device = device

    def __call__(self) -> float:
        cls = SlowingClock
        cls.reads += 1
        slow = cls.switch is not None and cls.reads > cls.switch
        cls.now += 0.001 * (cls.SLOW if slow else 1.0)
        return cls.now


def _speedup(timed) -> float:
    return timed.attempt.plain_time_s / timed.attempt.spec_time_s


def test_a_machine_that_slows_halfway_moves_an_interleaved_speedup_little(monkeypatch):
    monkeypatch.setattr(engine_module, "Clock", SlowingClock)
    target = make_model(VOCAB, layers=2, hidden=64, seed=0)
    drafter = NeuralDrafter(make_model(VOCAB, layers=1, hidden=32, seed=1), vocab_size=VOCAB)
    engine = SpeculativeEngine(target, drafter, gamma=3, eos_ids=set())
    greedy = Decoding("greedy")
    moved = {}
    for timing in ("interleaved", "sequential"):
        SlowingClock.reads, SlowingClock.switch = 0, None
        steady = _time(engine, greedy, timing, n=40)
        SlowingClock.reads, SlowingClock.switch = 0, SlowingClock.reads // 2
        for order in (PLAIN_FIRST, SPEC_FIRST):
            SlowingClock.reads = 0
            moved[timing, order] = _speedup(_time(engine, greedy, timing, order, n=40))
            moved[timing, order] /= _speedup(steady)
    # Back to back, the slow half lands on one decode: the speed-up moves by
    # tens of percent, one way or the other with the order. Interleaved, both
    # decodes take their share of it.
    assert moved["sequential", PLAIN_FIRST] < 0.7 and moved["sequential", SPEC_FIRST] > 1.4
    for order in (PLAIN_FIRST, SPEC_FIRST):
        assert moved["interleaved", order] == pytest.approx(1.0, abs=0.05)


def test_an_unknown_timing_mode_is_refused(engine):
    with pytest.raises(ValueError, match="timing must be one of"):
        _time(engine, Decoding("greedy"), "parallel")
