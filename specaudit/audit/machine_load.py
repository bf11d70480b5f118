"""How busy the machine was while a prompt was timed: load average and CPU steal.

Both are context for the timing health of a run (``metrics.timing``), not
inputs to any speed-up: a run on a loaded machine is flagged by its own
residuals against the cost model, and these figures say why.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LoadSample", "sample_load", "steal_share"]

_PROC_STAT = Path("/proc/stat")


@dataclass(frozen=True)
class LoadSample:
    """The load average and the CPU counters at one moment."""

    load_1m: float | None  #: the OS's 1-minute load average (None where unknown)
    steal: int | None  #: jiffies stolen by the hypervisor since boot (Linux only)
    total: int | None  #: all CPU jiffies since boot


def _cpu_counters(path: Path = _PROC_STAT) -> tuple[int | None, int | None]:
    """Return (steal, total) jiffies from ``/proc/stat``'s ``cpu`` line, or (None, None)."""
    try:
        with path.open(encoding="ascii") as fh:
            fields = fh.readline().split()
    except OSError:
        return None, None
    if not fields or fields[0] != "cpu" or len(fields) < 9:
        return None, None
    # user nice system idle iowait irq softirq steal [guest guest_nice]: guest
    # time is already counted in user, so the first eight make the total.
    counts = [int(x) for x in fields[1:9]]
    return counts[7], sum(counts)


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
