"""The order prompts are decoded in: groups interleaved in time.

A machine's speed drifts over a run (a co-tenant starts, the clock throttles,
the hypervisor steals time for a minute). Decoded group after group, each
group's prompts share one stretch of that drift, so a slow minute lands on
one or two groups and moves their speed-up against the others: the worst
group can change from run to run for no reason but the clock. Interleaved,
every group samples the whole run. Round r decodes the r-th prompt of every
group that has one, the groups in a seeded random order that changes each
round, so a periodic burst cannot keep hitting the same group either (the
classic randomised-block design against drift).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from specaudit.audit.prompts import Prompt

__all__ = ["in_decode_order", "interleave"]


def interleave(groups: Sequence[Hashable], seed: int) -> list[int]:
    """Return a decode order (indices into ``groups``) that interleaves the groups.

    Parameters
    ----------
    groups : sequence
        Each item's group, in the items' own order.
    seed : int
        Seeds the order of the groups within each round; the same seed gives
        the same order.

    Returns
    -------
    list of int
        A permutation of ``range(len(groups))``: round r holds the r-th item
        of every group that has one, rounds in turn; within a group, items
        keep their order.
    """
    members: dict[Hashable, list[int]] = {}
    for index, group in enumerate(groups):
        members.setdefault(group, []).append(index)
    queues = list(members.values())
    rng = np.random.default_rng(seed)
    order: list[int] = []
    for r in range(max(map(len, queues), default=0)):
        present = [q[r] for q in queues if r < len(q)]
        order.extend(present[i] for i in rng.permutation(len(present)))
    return order


def in_decode_order(prompts: Sequence[Prompt], how: str, seed: int) -> list[Prompt]:
    """Return ``prompts`` in the decode order a run's ``order`` setting asks for.

    ``"interleaved"`` interleaves the prompts' groups (:func:`interleave`);
    ``"grouped"`` keeps the prompts' own order, group after group as the
    prompt files list them.
    """
    if how == "grouped":
        return list(prompts)
    return [prompts[i] for i in interleave([p.group for p in prompts], seed)]
