"""How busy the machine was while a prompt was timed: load, steal, and other processes' CPU.

The load average and CPU steal are context for the timing health of a run
(``metrics.timing``). The CPU time other processes used during a decode
(:func:`others_cpu_s`) is a direct witness of a co-tenant: a decode during
which it is more than noise (:func:`contended`) is re-timed, like one the
cost model flags (:mod:`specaudit.audit.retime`). None of them is an input
to any speed-up.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CpuClock",
    "LoadSample",
    "busy_share",
    "contended",
    "cpu_clock",
    "others_cpu_s",
    "sample_load",
    "steal_share",
    "wait_for_quiet",
]

#: Other processes' CPU time during a decode below which it counts as noise:
#: with nothing else running, 91 demo decodes on the 2-core machine saw at
#: most 0.025 s (the counters tick every 10 ms), while those a neighbour's
#: burst overlapped saw up to 0.88 s and ran a median 2.0-2.7x slower
#: (``python bench/contention.py``, bench/RESULTS.md).
CONTENTION_MIN_S = 0.05
#: ... or below this share of the CPU time the decode's wall time offered.
CONTENTION_SHARE = 0.05

_PROC_STAT = Path("/proc/stat")


@dataclass(frozen=True)
class LoadSample:
    """The load average and the CPU counters at one moment."""

    load_1m: float | None  #: the OS's 1-minute load average (None where unknown)
    steal: int | None  #: jiffies stolen by the hypervisor since boot (Linux only)
    total: int | None  #: all CPU jiffies since boot


def _cpu_jiffies(path: Path = _PROC_STAT) -> list[int] | None:
    """Read ``/proc/stat``'s ``cpu`` line: user nice system idle iowait irq softirq steal."""
    try:
        with path.open(encoding="ascii") as fh:
            fields = fh.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu" or len(fields) < 9:
        return None
    # guest time is already counted in user, so the first eight make the total.
    return [int(x) for x in fields[1:9]]


def _clock_ticks() -> int:
    try:
        return int(os.sysconf("SC_CLK_TCK"))
    except (AttributeError, ValueError, OSError):
        return 100


@dataclass(frozen=True)
class CpuClock:
    """All CPUs' busy time and this process's own CPU time, at one moment."""

    busy_s: float | None  #: CPU seconds all CPUs spent busy since boot (None where unknown)
    own_s: float  #: CPU seconds this process (every thread) has used


def cpu_clock(path: Path = _PROC_STAT) -> CpuClock:
    """Read the machine's busy CPU time and this process's own CPU time now."""
    counts = _cpu_jiffies(path)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    busy = None if counts is None else (sum(counts) - counts[3] - counts[4]) / _clock_ticks()
    return CpuClock(busy_s=busy, own_s=usage.ru_utime + usage.ru_stime)


def others_cpu_s(before: CpuClock, after: CpuClock) -> float | None:
    """CPU seconds that other processes used between two readings (None where unknown).

    Everything busy on the machine less this process's own use; at least 0,
    since the two counters tick at different resolutions.
    """
    if before.busy_s is None or after.busy_s is None:
        return None
    return max(0.0, (after.busy_s - before.busy_s) - (after.own_s - before.own_s))


def contended(others_s: float | None, wall_s: float, n_cpus: int | None = None) -> bool:
    """Whether other processes used more CPU during a decode than noise explains.

    The bar is :data:`CONTENTION_MIN_S`, or :data:`CONTENTION_SHARE` of the
    CPU time the decode's wall time offered on ``n_cpus`` CPUs (all of this
    machine's by default) when that is more. Unknown usage is not contention.
    """
    if others_s is None:
        return False
    cpus = n_cpus or os.cpu_count() or 1
    return others_s > max(CONTENTION_MIN_S, CONTENTION_SHARE * wall_s * cpus)


def _cpu_counters(path: Path = _PROC_STAT) -> tuple[int | None, int | None]:
    """Return (steal, total) jiffies since boot, or (None, None)."""
    counts = _cpu_jiffies(path)
    return (None, None) if counts is None else (counts[7], sum(counts))


def sample_load() -> LoadSample:
    """Read the load average and the CPU steal counter now."""
    try:
        load = float(os.getloadavg()[0])
    except (AttributeError, OSError):
        load = None
    steal, total = _cpu_counters()
    return LoadSample(load_1m=load, steal=steal, total=total)


def steal_share(before: LoadSample, after: LoadSample) -> float | None:
    """Share of CPU time stolen between two samples (None where the OS does not say).

    Over a short interval the counters may not move (they tick every 10 ms);
    that reads as None, not as zero steal.
    """
    if None in (before.steal, before.total, after.steal, after.total):
        return None
    elapsed = after.total - before.total
    if elapsed <= 0:
        return None
    return (after.steal - before.steal) / elapsed


def busy_share(interval_s: float = 0.25) -> float | None:
    """Share of all CPUs' time that was busy over ``interval_s`` while this process slept.

    This process sleeps throughout, so what it measures is everybody else: a
    co-tenant's job, a compiler, a test suite. None where the OS does not say.
    """
    before = _cpu_jiffies()
    time.sleep(interval_s)
    after = _cpu_jiffies()
    if before is None or after is None:
        return None
    delta = [b - a for a, b in zip(before, after, strict=True)]
    total = sum(delta)
    if total <= 0:
        return None
    idle = delta[3] + delta[4]  # idle and iowait
    return (total - idle) / total


def wait_for_quiet(
    *, threshold: float = 0.10, max_wait_s: float = 8.0, interval_s: float = 0.1
) -> float:
    """Sleep until other processes leave the CPUs idle, at most ``max_wait_s``.

    Used before re-timing a stalled prompt: timing it again in the middle of
    the burst that stalled it would only stall it again. Each look sleeps
    ``interval_s``: a tenth of a second is 10 clock ticks per CPU, enough to
    see a burst, and a quiet machine pays it once per re-timing. Returns the
    seconds waited (0 where the OS gives no counters).
    """
    start = time.perf_counter()
    while time.perf_counter() - start < max_wait_s:
        share = busy_share(interval_s)
        if share is None or share < threshold:
            break
    return time.perf_counter() - start
