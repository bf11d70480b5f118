"""Atomic file writes shared by every stage: nothing is ever half-written.

A file is written under a temporary name in its own directory and renamed
over the target with :func:`os.replace`, so a reader (or a killed run) sees
either the old file or the whole new one. No torch: metrics, reports and
the gate use it too.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

__all__ = ["atomic_path", "write_atomic"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` on success.

    For writers that want a file name (e.g. ``safetensors.save_file``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_atomic(path: str | os.PathLike[str], content: str | Callable[[IO[str]], object]) -> Path:
    """Write text, or whatever ``content(fh)`` writes, to ``path`` atomically.

    Parameters
    ----------
    path : path
        Destination; its directory is created when missing.
    content : str or callable
        The text, or a function writing to an open UTF-8 text handle.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8", newline="\n") as fh:
        if callable(content):
            content(fh)
        else:
            fh.write(content)
    return path
