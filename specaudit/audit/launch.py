"""Where this process runs: alone, one rank of a launcher, or one ``--shard``.

Under ``accelerate launch`` or ``torchrun``, :class:`accelerate.PartialState`
gives the rank, the number of processes and this process's device (one GPU
per rank). ``--shard K/N`` is the same split without a launcher, for
scheduler array jobs (Slurm ``--array``) that start each shard on its own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from specaudit.audit.device import resolve_device
from specaudit.audit.shard import ShardSpec
from specaudit.errors import UserInputError

__all__ = ["Placement", "launched_world_size", "resolve_placement"]

# The world-size variables that accelerate itself reads: torchrun's (which
# `accelerate launch` uses for several processes) and MPI's (its multi-CPU path).
_WORLD_SIZE_VARS = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")


@dataclass(frozen=True)
class Placement:
    """The part of the run that this process does.

    Attributes
    ----------
    device : torch.device
        The device that this process decodes and times on.
    shard : ShardSpec or None
        Which shard this process decodes; ``None`` for an ordinary run.
    launched : bool
        True under a multi-process launcher: rank 0 then waits for the other
        shards and merges them. ``--shard`` processes never wait.
    """

    device: torch.device
    shard: ShardSpec | None = None
    launched: bool = False

    @property
    def merges(self) -> bool:
        """Whether this process writes the merged ``records.jsonl``."""
        return self.shard is None or (self.launched and self.shard.index == 0)


def launched_world_size() -> int:
    """Return how many processes a launcher started (1 when run directly)."""
    for name in _WORLD_SIZE_VARS:
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return 1


def resolve_placement(device: str, shard: ShardSpec | None = None) -> Placement:
    """Decide this process's device and shard.

    Parameters
    ----------
    device : str
        The configured device (``auto``, ``cpu``, ``cuda`` or ``cuda:N``).
    shard : ShardSpec or None
        An explicit ``--shard``.

    Raises
    ------
    UserInputError
        For ``--shard`` under a multi-process launcher, or an explicit
        ``cuda:N`` there (every rank would share one GPU).
    """
    world = launched_world_size()
    if world <= 1:
        return Placement(resolve_device(device), shard)
    if shard is not None:
        raise UserInputError(
            "--shard is for processes started one by one (e.g. Slurm arrays); under "
            "accelerate launch or torchrun the launcher already splits the run"
        )
    if device.startswith("cuda"):
        raise UserInputError(
            f"--device {device} under a {world}-process launch would put every rank on one "
            "GPU; leave --device auto (one GPU per rank) or use cpu"
        )
    try:
        from accelerate import PartialState
    except ImportError:
        raise UserInputError(
            f"this is a {world}-process launch, which needs accelerate: "
            "pip install 'specaudit[scale]'"
        ) from None

    # accelerate only chooses its CPU (gloo) backend when asked; without a GPU,
    # or with --device cpu, ask, or every rank would think it runs alone.
    cpu = device == "cpu" or not torch.cuda.is_available()
    state = PartialState(cpu=cpu)
    placed = torch.device("cpu") if cpu else state.device
    return Placement(placed, ShardSpec(state.process_index, state.num_processes), launched=True)
