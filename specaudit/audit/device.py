"""Device and dtype selection, and a clock that is honest on GPUs."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import torch

from specaudit.errors import UserInputError

__all__ = ["Clock", "resolve_device", "resolve_dtype", "resolve_threads"]

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_device(name: str) -> torch.device:
    """Turn ``auto|cpu|cuda|cuda:N`` into a device that exists.

    ``auto`` picks the first CUDA device when one is present, else the CPU.

    Raises
    ------
    UserInputError
        For an unknown name or a CUDA device that is not there.
    """
    if name == "auto":
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        index = 0 if name == "cuda" else name.partition(":")[2]
        if not str(index).isdigit():
            raise UserInputError(f"--device {name!r} is not valid; use auto, cpu, cuda or cuda:N")
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if int(index) >= count:
            raise UserInputError(
                f"--device {name}: no such CUDA device (this machine has {count}); "
                "use --device cpu or auto"
            )
        return torch.device(f"cuda:{index}")
    raise UserInputError(f"--device {name!r} is not valid; use auto, cpu, cuda or cuda:N")


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """Turn ``auto|float32|bfloat16|float16`` into a dtype for ``device``.

    ``auto`` is float32 on the CPU (bf16 matmuls are slower there on most
    CPUs, and greedy equivalence is most robust in float32) and bfloat16 on
    GPUs that support it, else float16.
    """
    if name == "auto":
        if device.type != "cuda":
            return torch.float32
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if name not in _DTYPES:
        raise UserInputError(
            f"--dtype {name!r} is not valid; use auto, float32, bfloat16 or float16"
        )
    return _DTYPES[name]


def resolve_threads(requested: int | None, device: torch.device) -> int:
    """Return the torch CPU thread count for a run on ``device``.

    ``requested`` (``--threads``) wins. Otherwise a CPU run leaves one core
    free: with a torch thread on every core, each interrupt, timer or other
    process on the machine stalls one thread while the others wait for it at
    the next barrier, and that jitter lands in every timing. On the project's
    2-core machine one thread instead of two scattered the decodes about 1.5x
    less around the cost model and decoded about 5% slower (medians of four
    interleaved rounds; ``bench/RESULTS.md``, "Threads and timing noise"). A
    thread count set through ``OMP_NUM_THREADS`` (as a launcher or a user
    sharing a machine does) is respected, and so is torch's own on a GPU,
    where the CPU threads only launch kernels.
    """
    if requested is not None:
        return requested
    own = torch.get_num_threads()
    if device.type != "cpu" or os.environ.get("OMP_NUM_THREADS"):
        return own
    return max(1, own - 1)


@dataclass(frozen=True)
class Clock:
    """``time.perf_counter`` that first waits for queued GPU work.

    CUDA kernels run asynchronously, so a clock read without a synchronise
    measures launch time, not work (docs/method.md#timing).
    """

    device: torch.device

    def __call__(self) -> float:
        """Return the current time in seconds, after the device is idle."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter()
