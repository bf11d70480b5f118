"""How busy the machine was while a prompt was timed: load average and CPU steal.

Both are context for the timing health of a run (``metrics.timing``), not
inputs to any speed-up: a run on a loaded machine is flagged by its own
residuals against the cost model, and these figures say why.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LoadSample", "busy_share", "sample_load", "steal_share", "wait_for_quiet"]

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
