"""Which hardware timed each group, and a note when it is not all the same.

A sharded run (``accelerate launch``, ``--shard``) can time different groups
on different kinds of device. Speed-ups measured on an H100 and on an A100
are not comparable, so a contrast between two such groups confounds the
language with the machine. Records carry ``device_name`` for this; records
without it (written before it existed) are left out of the check.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["device_notes", "group_devices"]


def group_devices(records: Iterable[Mapping[str, Any]]) -> dict[str, tuple[str, ...]]:
    """Map each ``language/task`` group to the device names that timed it.

    Parameters
    ----------
    records : iterable of mapping
        Record dicts as read from ``records.jsonl``.

    Returns
    -------
    dict of str to tuple of str
        Sorted device names per group, groups in first-seen order; groups
        whose records carry no ``device_name`` are absent.
    """
    found: dict[str, set[str]] = {}
    for record in records:
        name = record.get("device_name")
        if name is not None:
            found.setdefault(f"{record['language']}/{record['task']}", set()).add(str(name))
    return {group: tuple(sorted(names)) for group, names in found.items()}


def device_notes(records: Iterable[Mapping[str, Any]]) -> list[str]:
    """One note when the run's groups were timed on more than one kind of device.

    No disparity here means one device name across every group, and no note.

    Parameters
    ----------
    records : iterable of mapping
        Record dicts as read from ``records.jsonl``.

    Returns
    -------
    list of str
        Empty, or one note listing each group's device(s).
    """
    devices = group_devices(records)
    kinds = {name for names in devices.values() for name in names}
    if len(kinds) < 2:
        return []
    by_group = "; ".join(f"{group}: {' + '.join(names)}" for group, names in devices.items())
    return [
        f"groups were timed on {len(kinds)} different device types, which confounds "
        f"speed-up comparisons between them ({by_group})"
    ]
