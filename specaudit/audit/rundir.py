"""The run directory: resolved config, environment, and append-only records.

Layout::

    RUN_DIR/
      config.yaml        resolved configuration (RunConfig fields)
      environment.json   versions, device, dtype, threads, models, seed
      records.jsonl      one PromptRecord per line, appended atomically

Nothing is ever half-written: whole files go to a temporary name and are
renamed, and each record line is appended with one ``write`` and an
``fsync``. A line cut short by a hard kill is detected and dropped on resume.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml

from specaudit.atomic import write_atomic
from specaudit.audit.records import PromptRecord
from specaudit.errors import UserInputError

__all__ = ["RunDir"]


class RunDir:
    """One audit's output directory.

    Parameters
    ----------
    path : path
        The directory; created when missing.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.config_path = self.path / "config.yaml"
        self.environment_path = self.path / "environment.json"
        self.records_path = self.path / "records.jsonl"

    def start(self, config: dict, *, resume: bool) -> set[str]:
        """Prepare the directory and return the ids of prompts already done.

        Raises
        ------
        UserInputError
            If the directory holds a run and ``resume`` is off, or ``resume``
            is on but the saved config differs from ``config``.
        """
        has_run = self.config_path.exists() or self.records_path.exists()
        if has_run and not resume:
            raise UserInputError(
                f"{self.path} already holds a run; pass --resume to continue it "
                "or choose another --out"
            )
        if resume and self.config_path.exists():
            saved = yaml.safe_load(self.config_path.read_text(encoding="utf-8"))
            diff = sorted(k for k in set(saved) | set(config) if saved.get(k) != config.get(k))
            if diff:
                raise UserInputError(
                    f"cannot resume {self.path}: its config differs in {', '.join(diff)}; "
                    "rerun with the same options or choose another --out"
                )
        self.path.mkdir(parents=True, exist_ok=True)
        write_atomic(self.config_path, yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
        return {r["id"] for r in self.read_records()}

    def write_environment(self, environment: dict) -> None:
        """Write ``environment.json`` atomically.

        When the run is being resumed, the first environment stays and the new
        one is appended under ``resumes``: records written on another device
        or with other versions must stay traceable.
        """
        if self.environment_path.exists():
            first = json.loads(self.environment_path.read_text(encoding="utf-8"))
            first.setdefault("resumes", []).append(environment)
            environment = first
        text = json.dumps(environment, indent=2, ensure_ascii=False) + "\n"
        write_atomic(self.environment_path, text)

    def _drop_truncated_tail(self) -> None:
        """Cut a last line that a hard kill left without its newline."""
        with self.records_path.open("rb+") as fh:
            data = fh.read()
            if data and not data.endswith(b"\n"):
                fh.truncate(data.rfind(b"\n") + 1)

    def read_records(self) -> list[dict]:
        """Parse the record lines, first removing a truncated last line.

        Raises
        ------
        UserInputError
            If a complete line is not valid JSON.
        """
        if not self.records_path.exists():
            return []
        self._drop_truncated_tail()
        records = []
        with self.records_path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    raise UserInputError(
                        f"{self.records_path}:{number} is not valid JSON; "
                        "the run directory is damaged"
                    ) from None
        return records

    def append(self, record: PromptRecord) -> None:
        """Append one record line with a single write, then fsync."""
        data = (record.to_json() + "\n").encode("utf-8")
        fd = os.open(self.records_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
