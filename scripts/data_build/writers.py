"""Byte-deterministic writers: JSON lines, gzip with a zero mtime and no file name."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

__all__ = ["gzip_bytes", "jsonl_bytes", "text_bytes", "write_bytes"]


def jsonl_bytes(rows: list[dict]) -> bytes:
    """One compact JSON object per line, UTF-8, keys in the order given."""
    lines = (json.dumps(row, ensure_ascii=False, separators=(", ", ": ")) for row in rows)
    return "".join(line + "\n" for line in lines).encode("utf-8")


def text_bytes(paragraphs: list[str]) -> bytes:
    """Paragraphs separated by one blank line, ending in a newline."""
    return ("\n\n".join(paragraphs) + "\n").encode("utf-8") if paragraphs else b""


def gzip_bytes(data: bytes) -> bytes:
    """Gzip with mtime 0 and an empty file name, so equal input gives equal bytes."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as gz:
        gz.write(data)
    return buffer.getvalue()


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
