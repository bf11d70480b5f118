"""Split an audit's prompts across processes, and merge the shards back.

A shard is the part of the prompt list one process decodes. Every process
computes the same :class:`ShardPlan` from the same prompt selection, so the
processes never need to talk to each other to agree on who does what.

By default whole (language, task) groups go to one shard, so all prompts of a
group are timed on the same device and speed-ups within a group are never a
mix of two machines. Groups are balanced by prompt count (largest first, each
to the currently lightest shard). ``by="prompt"`` deals prompts out one by
one instead, for launches with more processes than groups.

Everything here is pure: no files, no torch.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from specaudit.errors import UserInputError

__all__ = [
    "SHARD_STRATEGIES",
    "MergedRecords",
    "ShardPlan",
    "ShardSpec",
    "assign_shards",
    "merge_records",
]

#: How prompts are dealt out: whole groups (default) or single prompts.
SHARD_STRATEGIES = ("group", "prompt")
Strategy = Literal["group", "prompt"]

_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class ShardSpec:
    """One shard: ``index`` of ``count`` (0-based, like Slurm array task ids).

    Parameters
    ----------
    index : int
        0 <= index < count.
    count : int
        Number of shards, >= 1.
    """

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise UserInputError(
                f"--shard {self.index}/{self.count} is not valid: use K/N with 0 <= K < N"
            )

    @classmethod
    def parse(cls, text: str) -> ShardSpec:
        """Read ``"K/N"``, e.g. ``"0/4"`` or ``"$SLURM_ARRAY_TASK_ID/4"`` once expanded.

        Raises
        ------
        UserInputError
            If ``text`` is not ``K/N`` with 0 <= K < N.
        """
        match = _SPEC.match(text)
        if match is None:
            raise UserInputError(
                f"--shard {text!r} is not valid: use K/N, e.g. 0/4 for the first of 4 shards"
            )
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def assign_shards(groups: Sequence[Any], count: int, *, by: Strategy = "group") -> list[int]:
    """Deal prompts out to ``count`` shards, deterministically.

    Parameters
    ----------
    groups : sequence
        The group key (e.g. ``(language, task)``) of each prompt, in prompt
        order. Only equality matters.
    count : int
        Number of shards.
    by : {"group", "prompt"}
        ``"group"``: every prompt of a group goes to the same shard; groups
        are taken largest first (ties: first seen first) and each goes to the
        shard with the fewest prompts so far (ties: lowest index), the
        longest-processing-time rule. ``"prompt"``: prompt ``i`` goes to shard
        ``i mod count``.

    Returns
    -------
    list of int
        The shard of each prompt.

    Raises
    ------
    UserInputError
        For ``count < 1`` or an unknown ``by``.
    """
    if count < 1:
        raise UserInputError(f"shard count must be at least 1, got {count}")
    if by == "prompt":
        return [i % count for i in range(len(groups))]
    if by != "group":
        raise UserInputError(f"--shard-by {by!r} is not valid; use {' or '.join(SHARD_STRATEGIES)}")
    sizes: dict[Any, int] = {}
    for key in groups:
        sizes[key] = sizes.get(key, 0) + 1
    first_seen = {key: i for i, key in enumerate(sizes)}
    load = [0] * count
    shard_of: dict[Any, int] = {}
    for key in sorted(sizes, key=lambda k: (-sizes[k], first_seen[k])):
        lightest = min(range(count), key=lambda s: (load[s], s))
        shard_of[key] = lightest
        load[lightest] += sizes[key]
    return [shard_of[key] for key in groups]


@dataclass(frozen=True)
class ShardPlan:
    """Who decodes which prompt, and the order of the merged records.

    Saved as ``shards.json`` in the run directory so that ``specaudit merge``
    can order and check the shards without the prompt files.

    Parameters
    ----------
    ids : tuple of str
        Prompt ids in run order (the order of a single-process run).
    shards : tuple of int
        The shard of each prompt.
    count : int
        Number of shards.
    by : {"group", "prompt"}
        The strategy that made ``shards``.
    """

    ids: tuple[str, ...]
    shards: tuple[int, ...]
    count: int
    by: Strategy = "group"

    @classmethod
    def build(
        cls, ids: Sequence[str], groups: Sequence[Any], count: int, *, by: Strategy = "group"
    ) -> ShardPlan:
        """Plan ``count`` shards over prompts ``ids`` with group keys ``groups``."""
        return cls(tuple(ids), tuple(assign_shards(groups, count, by=by)), count, by)

    def missing(self, done: Iterable[str]) -> dict[int, list[str]]:
        """Prompt ids not in ``done``, by shard (shards with none left out)."""
        done = set(done)
        out: dict[int, list[str]] = {}
        for prompt_id, shard in zip(self.ids, self.shards, strict=True):
            if prompt_id not in done:
                out.setdefault(shard, []).append(prompt_id)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``shards.json``)."""
        return {
            "plan_version": 1,
            "count": self.count,
            "by": self.by,
            "prompts": [{"id": i, "shard": s} for i, s in zip(self.ids, self.shards, strict=True)],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ShardPlan:
        """Inverse of :meth:`to_dict`.

        Raises
        ------
        ValueError
            If ``data`` is not a version-1 plan.
        """
        if not isinstance(data, dict) or data.get("plan_version") != 1:
            raise ValueError("not a version-1 shard plan")
        rows = data["prompts"]
        return cls(
            tuple(r["id"] for r in rows), tuple(r["shard"] for r in rows), data["count"], data["by"]
        )


@dataclass(frozen=True)
class MergedRecords:
    """Record lines in run order, and what the merge found on the way."""

    lines: tuple[str, ...]  #: one JSON line per prompt of the plan, in plan order
    missing: tuple[str, ...]  #: plan ids that no source holds
    n_duplicates: int  #: extra copies of a prompt that were dropped (first one kept)
    n_extra: int  #: records of prompts outside the plan, dropped


def merge_records(
    order: Sequence[str], sources: Iterable[Iterable[tuple[str, str]]]
) -> MergedRecords:
    """Merge record lines from several files into one list in ``order``.

    Parameters
    ----------
    order : sequence of str
        Prompt ids in the order the merged file must have.
    sources : iterable of iterables of (id, line)
        Each source's records, e.g. ``records.jsonl`` first and then the
        shards by rank. The first copy of a prompt wins: greedy and seeded
        records are identical apart from timings, and a copy can only arise
        when a killed run is merged twice.

    Returns
    -------
    MergedRecords
    """
    wanted = set(order)
    first: dict[str, str] = {}
    n_duplicates = n_extra = 0
    for source in sources:
        for prompt_id, line in source:
            if prompt_id not in wanted:
                n_extra += 1
            elif prompt_id in first:
                n_duplicates += 1
            else:
                first[prompt_id] = line
    return MergedRecords(
        lines=tuple(first[i] for i in order if i in first),
        missing=tuple(i for i in order if i not in first),
        n_duplicates=n_duplicates,
        n_extra=n_extra,
    )
