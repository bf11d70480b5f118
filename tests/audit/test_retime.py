"""A stall injected into one decode is caught, re-timed, and leaves the figures as without it.

The test drives the real engine on the demo pair, but with a virtual clock:
every clock read advances time by 1 ms, so a decode's time depends only on
its path through the code and two runs time identically. The stall hook
makes the clock jump during one chosen plain decode, once. The audit's
default timing interleaves each prompt's two decodes (attempts.interleave),
so the hooks act when a plain decode starts to run.
"""

from __future__ import annotations

import pytest

import specaudit.audit.attempts as attempts_module
import specaudit.audit.engine as engine_module
import specaudit.audit.retime as retime_module
from specaudit.audit.config import RunConfig
from specaudit.audit.runner import run_audit
from specaudit.metrics import compute_metrics, load_records

STALL_S = 5.0


class VirtualClock:
    """A clock that ticks 1 ms per read; a pending stall lands on the second read after it."""

    now = 0.0
    pending: float = 0.0
    reads_before_stall: int = 0

    def __init__(self, device) -> None:
        self.device = device

    def __call__(self) -> float:
        VirtualClock.now += 0.001
        if VirtualClock.pending:
            # The first read starts the decode's timing; the jump must come after it.
            if VirtualClock.reads_before_stall == 0:
                VirtualClock.now += VirtualClock.pending
                VirtualClock.pending = 0.0
            else:
                VirtualClock.reads_before_stall -= 1
        return VirtualClock.now


@pytest.fixture
def virtual_clock(monkeypatch):
    monkeypatch.setattr(engine_module, "Clock", VirtualClock)
    VirtualClock.now, VirtualClock.pending = 0.0, 0.0
    # Nothing else runs on a virtual machine: whatever else the real one
    # runs during the test must not look like a co-tenant.
    monkeypatch.setattr(attempts_module, "others_cpu_s", lambda before, after: 0.0)


def _on_plain_start(monkeypatch, hook) -> None:
    """Call ``hook(prompt_ids, max_new_tokens)`` as each plain decode starts to run.

    Not when it is created: the speculative decode interleaved with it may
    read the clock in between.
    """
    original = engine_module.SpeculativeEngine.plain_steps

    def started(steps, prompt_ids, max_new_tokens):
        hook(prompt_ids, max_new_tokens)
        return (yield from steps)

    def plain_steps(self, prompt_ids, max_new_tokens, sampler, **kwargs):
        steps = original(self, prompt_ids, max_new_tokens, sampler, **kwargs)
        return started(steps, prompt_ids, max_new_tokens)

    monkeypatch.setattr(engine_module.SpeculativeEngine, "plain_steps", plain_steps)


def _stall_once(monkeypatch, prompt_index: int) -> dict:
    """Make the first plain decode of the ``prompt_index``-th distinct prompt stall."""
    seen: list[tuple[int, ...]] = []
    state = {"fired": False}

    def hook(prompt_ids, max_new_tokens):
        key = tuple(prompt_ids)
        if key not in seen and max_new_tokens > 8:  # warm-up decodes are 8 tokens
            seen.append(key)
            if len(seen) == prompt_index + 1 and not state["fired"]:
                state["fired"] = True
                VirtualClock.pending, VirtualClock.reads_before_stall = STALL_S, 1

    _on_plain_start(monkeypatch, hook)
    return state


def _newly_retimed(clean_dir, run_dir):
    """Both runs' records, the one prompt re-timed in ``run_dir`` only, and all it re-timed.

    Virtual time fits the cost model only roughly (every clock read costs the
    same), so the clean run may re-time a prompt or two of its own.
    """
    clean = load_records(clean_dir / "records.jsonl")
    records = load_records(run_dir / "records.jsonl")
    before = {r["id"] for r in clean if len(r["timing_attempts"]) > 1}
    after = {r["id"] for r in records if len(r["timing_attempts"]) > 1}
    assert len(after - before) == 1
    return clean, records, next(r for r in records if r["id"] in after - before), after


CONFIG = RunConfig(languages=["en"], n_prompts=6, max_new_tokens=16, threads=1)
SEQUENTIAL = CONFIG.model_copy(update={"timing": "sequential"})


def test_a_stall_is_retimed_and_the_figures_match_the_unstalled_run(
    tmp_path, monkeypatch, virtual_clock
):
    clean_dir, stalled_dir = tmp_path / "clean", tmp_path / "stalled"
    run_audit(CONFIG, clean_dir, progress=False)
    VirtualClock.now = 0.0
    state = _stall_once(monkeypatch, prompt_index=3)
    summary = run_audit(CONFIG, stalled_dir, progress=False)
    assert state["fired"]

    # The stall adds exactly one re-timed prompt, which agrees with the model once re-timed.
    clean_records, records, record, after = _newly_retimed(clean_dir, stalled_dir)
    first, second = record["timing_attempts"][:2]
    assert first["reason"] == "initial" and second["reason"] == "retime"
    assert first["plain_time_s"] > STALL_S > second["plain_time_s"]
    assert record["timing_chosen"] == {"plain": 1, "spec": 1}
    assert len(record["timing_attempts"]) == 2  # the first re-timing agreed
    assert record["baseline_time_s"] == second["plain_time_s"]
    assert first["order"] != second["order"]  # the order alternates between attempts
    assert summary.retimed.n_retimed == len(after)

    clean = compute_metrics(clean_records, n_boot=200)
    stalled = compute_metrics(records, n_boot=200)
    for c, s in zip(clean.groups, stalled.groups, strict=True):
        assert s.speedup.estimate == pytest.approx(c.speedup.estimate, rel=1e-6)
        assert s.speedup_raw.estimate == pytest.approx(c.speedup_raw.estimate, rel=1e-6)
    assert stalled.timing.n_retimed == clean.timing.n_retimed + 1
    assert stalled.timing.n_flagged == clean.timing.n_flagged
    assert records[0]["record_version"] == 2


def test_each_retiming_waits_for_quiet_cpus_then_warms_up(tmp_path, monkeypatch, virtual_clock):
    # The first decode after a pause runs slow (attempts.warm_up), and every
    # re-timing follows a wait: unwarmed, re-timings would be biased slow.
    calls: list[str] = []

    def spy(name, real=None):
        def call(*args, **kwargs):
            calls.append(name)
            return real(*args, **kwargs) if real else 0.0

        return call

    monkeypatch.setattr(retime_module, "wait_for_quiet", spy("wait"))
    monkeypatch.setattr(retime_module, "warm_up", spy("warm", retime_module.warm_up))
    monkeypatch.setattr(retime_module, "time_prompt", spy("time", retime_module.time_prompt))
    _stall_once(monkeypatch, prompt_index=3)
    summary = run_audit(CONFIG, tmp_path / "run", progress=False)
    assert summary.retimed.attempts >= 1
    assert calls == ["wait", "warm", "time"] * summary.retimed.attempts


def test_a_prompt_that_never_agrees_gets_retime_timings_in_all(
    tmp_path, monkeypatch, virtual_clock
):
    # Later looks re-time a prompt their tighter fence flags again, but never
    # beyond --retime re-timings in all: the pass ends, and the prompt counts
    # at its modelled times.
    keys: list[tuple[int, ...]] = []

    def hook(prompt_ids, max_new_tokens):
        key = tuple(prompt_ids)
        if max_new_tokens > 8 and (not keys or keys[0] == key):
            keys[:1] = [key]
            VirtualClock.pending, VirtualClock.reads_before_stall = STALL_S, 1

    _on_plain_start(monkeypatch, hook)
    config = CONFIG.model_copy(update={"retime": 2})
    run_audit(config, tmp_path / "run", progress=False)
    records = load_records(tmp_path / "run" / "records.jsonl")
    stalled = next(r for r in records if r["prompt_ids"] == list(keys[0]))
    assert [a["reason"] for a in stalled["timing_attempts"]] == ["initial", "retime", "retime"]
    assert all(a["plain_time_s"] > STALL_S for a in stalled["timing_attempts"])
    assert stalled["id"] in compute_metrics(records, n_boot=200).timing.flagged


def test_retime_off_keeps_the_stall_and_the_headline_still_ignores_it(
    tmp_path, monkeypatch, virtual_clock
):
    clean_dir, stalled_dir = tmp_path / "clean", tmp_path / "stalled"
    config = CONFIG.model_copy(update={"retime": 0})
    run_audit(config, clean_dir, progress=False)
    VirtualClock.now = 0.0
    _stall_once(monkeypatch, prompt_index=4)
    summary = run_audit(config, stalled_dir, progress=False)
    assert summary.retimed.n_retimed == 0
    records = load_records(stalled_dir / "records.jsonl")
    assert all(len(r["timing_attempts"]) == 1 for r in records)
    clean = compute_metrics(load_records(clean_dir / "records.jsonl"), n_boot=200)
    stalled = compute_metrics(records, n_boot=200)
    assert stalled.timing.n_flagged == clean.timing.n_flagged + 1
    hit = next(
        s
        for c, s in zip(clean.groups, stalled.groups, strict=True)
        if s.speedup_raw.estimate != pytest.approx(c.speedup_raw.estimate)
    )
    before = clean.group(hit.group)
    assert hit.speedup_raw.estimate > 1.5 * before.speedup_raw.estimate  # plain got slower
    assert hit.speedup.estimate == pytest.approx(before.speedup.estimate, rel=0.01)


def test_repeats_keep_every_attempt_and_choose_the_median(tmp_path, virtual_clock):
    config = RunConfig(languages=["en"], tasks=["story"], n_prompts=2, max_new_tokens=8, repeats=3)
    run_audit(config, tmp_path / "run", progress=False)
    for record in load_records(tmp_path / "run" / "records.jsonl"):
        attempts = record["timing_attempts"]
        assert [a["reason"] for a in attempts] == ["initial", "repeat", "repeat"]
        assert all(a["reproduced"] for a in attempts)
        plain = sorted(range(3), key=lambda i: attempts[i]["plain_time_s"])[1]
        assert record["timing_chosen"]["plain"] == plain
        assert record["baseline_time_s"] == attempts[plain]["plain_time_s"]


def _busy_during(monkeypatch, prompt_index: int | None) -> dict:
    """Report other processes' CPU use during one plain decode (every decode if None)."""
    seen: list[tuple[int, ...]] = []
    state = {"busy": False, "fired": 0}

    def hook(prompt_ids, max_new_tokens):
        key = tuple(prompt_ids)
        if key not in seen and max_new_tokens > 8:
            seen.append(key)
            state["busy"] = prompt_index is None or len(seen) == prompt_index + 1

    def others(before, after):
        busy, state["busy"] = state["busy"], prompt_index is None
        state["fired"] += busy
        return 0.3 if busy else 0.0

    _on_plain_start(monkeypatch, hook)
    monkeypatch.setattr(attempts_module, "others_cpu_s", others)
    return state


def test_a_decode_timed_beside_another_process_is_retimed(tmp_path, monkeypatch, virtual_clock):
    # Back to back, a co-tenant's burst that slows a decode by less than the
    # outlier fence is still a co-tenant: the prompt is timed again once the
    # CPUs are idle.
    config = SEQUENTIAL
    clean_dir, busy_dir = tmp_path / "clean", tmp_path / "busy"
    run_audit(config, clean_dir, progress=False)
    VirtualClock.now = 0.0
    state = _busy_during(monkeypatch, prompt_index=3)
    summary = run_audit(config, busy_dir, progress=False)
    assert state["fired"] == 1
    _, _, record, after = _newly_retimed(clean_dir, busy_dir)
    first, second = record["timing_attempts"][:2]
    assert first["plain_others_cpu_s"] == 0.3 and second["plain_others_cpu_s"] == 0.0
    assert record["timing_chosen"] == {"plain": 1, "spec": 1}
    assert summary.retimed.n_retimed == len(after)


def test_interleaved_a_burst_beside_both_decodes_is_no_reason_to_retime(
    tmp_path, monkeypatch, virtual_clock
):
    # Interleaved, the burst fell on both decodes alike (by their own times)
    # and left the prompt's speed-up as it was.
    clean_dir, busy_dir = tmp_path / "clean", tmp_path / "busy"
    clean = run_audit(CONFIG, clean_dir, progress=False)
    VirtualClock.now = 0.0
    state = _busy_during(monkeypatch, prompt_index=3)
    busy = run_audit(CONFIG, busy_dir, progress=False)
    assert state["fired"] == 1
    assert busy.retimed.n_retimed == clean.retimed.n_retimed
    hit = [
        r["timing_attempts"][0]
        for r in load_records(busy_dir / "records.jsonl")
        if r["timing_attempts"][0]["plain_others_cpu_s"]
    ]
    assert len(hit) == 1
    shares = [hit[0][f"{kind}_others_cpu_s"] for kind in ("plain", "spec")]
    assert sum(shares) == pytest.approx(0.3)
    assert shares[0] / shares[1] == pytest.approx(hit[0]["plain_time_s"] / hit[0]["spec_time_s"])


def test_contention_throughout_retimes_outliers_only(tmp_path, monkeypatch, virtual_clock):
    # Sibling shards on one machine keep each other busy the whole run: that
    # is no burst to wait out, and re-timing every prompt would not escape it.
    clean_dir, busy_dir = tmp_path / "clean", tmp_path / "busy"
    clean = run_audit(SEQUENTIAL, clean_dir, progress=False)
    VirtualClock.now = 0.0
    _busy_during(monkeypatch, prompt_index=None)
    busy = run_audit(SEQUENTIAL, busy_dir, progress=False)
    # Every prompt was timed beside the siblings; only the outliers are re-timed.
    assert busy.retimed.n_retimed == clean.retimed.n_retimed < 12
