"""Machine load: /proc/stat counters, CPU steal, and waiting for quiet before re-timing."""

from __future__ import annotations

import pytest

from specaudit.audit import machine_load
from specaudit.audit.machine_load import LoadSample, busy_share, steal_share, wait_for_quiet


def test_cpu_jiffies_reads_the_first_eight_counters(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text("cpu  10 1 5 80 2 0 1 3 7 0\ncpu0 5 0 2 40 1 0 0 2 0 0\n", encoding="ascii")
    assert machine_load._cpu_jiffies(stat) == [10, 1, 5, 80, 2, 0, 1, 3]
    assert machine_load._cpu_counters(stat) == (3, 102)
    stat.write_text("intr 1 2 3\n", encoding="ascii")
    assert machine_load._cpu_jiffies(stat) is None
    assert machine_load._cpu_jiffies(tmp_path / "missing") is None


def test_steal_share():
    before = LoadSample(load_1m=1.0, steal=10, total=1000)
    assert steal_share(before, LoadSample(1.0, steal=30, total=1200)) == pytest.approx(0.1)
    # Counters that did not tick say nothing, and no counters say nothing.
    assert steal_share(before, before) is None
    assert steal_share(before, LoadSample(1.0, None, None)) is None


def _counters(monkeypatch, readings):
    """Feed busy_share successive /proc/stat readings, without sleeping."""
    it = iter(readings)
    monkeypatch.setattr(machine_load, "_cpu_jiffies", lambda: next(it))
    monkeypatch.setattr(machine_load.time, "sleep", lambda s: None)


def test_busy_share_counts_everything_but_idle_and_iowait(monkeypatch):
    # 20 jiffies pass: 5 user, 1 system, 12 idle, 2 iowait -> 6 busy.
    _counters(monkeypatch, [[0, 0, 0, 0, 0, 0, 0, 0], [5, 0, 1, 12, 2, 0, 0, 0]])
    assert busy_share(0.1) == pytest.approx(0.3)
    _counters(monkeypatch, [None, None])
    assert busy_share(0.1) is None


def test_wait_for_quiet_returns_at_once_on_a_quiet_machine(monkeypatch):
    looks = []
    monkeypatch.setattr(machine_load, "busy_share", lambda s: looks.append(s) or 0.02)
    assert wait_for_quiet() < 0.05
    assert looks == [0.1]  # one look of a tenth of a second


def test_wait_for_quiet_waits_out_a_burst_and_gives_up_at_the_limit(monkeypatch):
    shares = iter([1.0, 0.9, 0.05])
    monkeypatch.setattr(machine_load, "busy_share", lambda s: next(shares))
    wait_for_quiet()
    assert next(shares, "spent") == "spent"  # looked until the burst ended, then stopped
    monkeypatch.setattr(machine_load, "busy_share", lambda s: 1.0)
    assert 0.05 <= wait_for_quiet(max_wait_s=0.05) < 1.0  # busy throughout: gives up


def test_others_cpu_time_is_the_machines_busy_time_less_our_own(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text("cpu  100 0 20 500 10 0 0 0 0 0\n", encoding="ascii")
    clock = machine_load.cpu_clock(stat)
    ticks = machine_load._clock_ticks()
    assert clock.busy_s == pytest.approx(120 / ticks)
    assert clock.own_s > 0.0  # this test process has run
    before = machine_load.CpuClock(busy_s=10.0, own_s=2.0)
    assert machine_load.others_cpu_s(before, machine_load.CpuClock(10.5, 2.2)) == pytest.approx(0.3)
    # Counters of different resolution can make ours exceed the machine's: never below 0.
    assert machine_load.others_cpu_s(before, machine_load.CpuClock(10.0, 2.01)) == 0.0
    assert machine_load.others_cpu_s(before, machine_load.CpuClock(None, 2.2)) is None


@pytest.mark.parametrize(
    ("others_s", "wall_s", "expected"),
    [
        (None, 0.3, False),  # the OS does not say
        (0.02, 0.3, False),  # two clock ticks: noise
        (0.06, 0.3, True),  # above 0.05 s, and above 5% of 0.6 CPU-seconds
        (0.06, 1.0, False),  # a long decode: 5% of 2 CPU-seconds is 0.1 s
        (0.2, 1.0, True),
    ],
)
def test_contended(others_s, wall_s, expected):
    assert machine_load.contended(others_s, wall_s, n_cpus=2) is expected
