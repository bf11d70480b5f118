"""Decode order: groups interleaved in time, rounds shuffled by the seed."""

from __future__ import annotations

from specaudit.audit.order import in_decode_order, interleave
from specaudit.audit.prompts import Prompt

# 22 groups of 20 in file order, like the default audit.
GROUPS = [g for g in range(22) for _ in range(20)]


def test_each_round_holds_every_group_once_and_groups_keep_their_order():
    order = interleave(GROUPS, seed=0)
    assert sorted(order) == list(range(len(GROUPS)))
    for r in range(20):
        assert sorted(GROUPS[i] for i in order[22 * r : 22 * (r + 1)]) == list(range(22))
    for g in range(22):
        mine = [i for i in order if GROUPS[i] == g]
        assert mine == sorted(mine)


def test_every_group_spans_the_run():
    # Grouped, a group's prompts occupy 20 consecutive slots of 440; interleaved,
    # each group's first prompt is in the first round and its last in the last.
    order = interleave(GROUPS, seed=3)
    slot = {i: s for s, i in enumerate(order)}
    for g in range(22):
        slots = [slot[i] for i in range(len(GROUPS)) if GROUPS[i] == g]
        assert min(slots) < 22 and max(slots) >= len(GROUPS) - 22


def test_rounds_are_shuffled_reproducibly():
    a, b = interleave(GROUPS, seed=1), interleave(GROUPS, seed=1)
    assert a == b
    assert a != interleave(GROUPS, seed=2)
    # The within-round order changes between rounds, so a periodic burst does
    # not keep landing on the same group.
    first = [GROUPS[i] for i in a[:22]]
    assert any([GROUPS[i] for i in a[22 * r : 22 * (r + 1)]] != first for r in range(1, 20))


def test_unequal_groups_and_grouped_order():
    groups = ["a", "a", "a", "b", "c", "c"]
    order = interleave(groups, seed=0)
    assert sorted(order[:3]) == [0, 3, 4] and sorted(order[3:5]) == [1, 5] and order[5:] == [2]
    assert interleave([], seed=0) == []
    prompts = [Prompt(str(i), g, "story", "x") for i, g in enumerate(groups)]
    assert in_decode_order(prompts, "grouped", seed=0) == prompts
    assert in_decode_order(prompts, "interleaved", seed=0) == [prompts[i] for i in order]
