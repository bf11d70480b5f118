"""The run directory: resolved config, environment, and append-only records.

Layout::

    RUN_DIR/
      config.yaml        resolved configuration (RunConfig fields)
      environment.json   versions, device, dtype, threads, models, seed
                         (a sharded run adds ``ranks``: each rank's environment)
      records.jsonl      one PromptRecord per line, appended atomically
      shards.json        a sharded run's plan: who decodes which prompt, in order
      records.rank-K.jsonl, environment.rank-K.json
                         shard K's records and environment until the merge
      finished.rank-K.json
                         shard K has decoded and re-timed all it will: its
                         records file no longer changes (removed by the merge)

Nothing is ever half-written: whole files go to a temporary name and are
renamed, and each record line is appended with one ``write`` and an
``fsync``. A line cut short by a hard kill is detected and dropped on resume,
by the process that owns the file; every other reader skips it.

A process only ever appends to its own records file, so shards run side by
side without locks. Every process reads all record files to know which
prompts are done, which is what lets a run resume with another number of
processes, or a sharded run finish in a single one.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from specaudit.atomic import write_atomic
from specaudit.audit.shard import ShardPlan, merge_records
from specaudit.errors import UserInputError
from specaudit.records import PromptRecord

__all__ = ["MergeSummary", "RunDir"]

_SHARD_FILE = re.compile(r"^(records|environment|finished)\.rank-(\d+)\.(jsonl|json)$")


@dataclass(frozen=True)
class MergeSummary:
    """What :meth:`RunDir.merge` wrote."""

    path: Path  #: the merged ``records.jsonl``
    n_records: int  #: records in it
    n_shard_files: int  #: shard record files merged and removed
    n_duplicates: int  #: extra copies of a prompt dropped (first kept)


class RunDir:
    """One audit's output directory.

    Parameters
    ----------
    path : path
        The directory; created when missing.
    shard : int or None
        The shard this process writes (``records.rank-K.jsonl`` and
        ``environment.rank-K.json``); ``None`` writes ``records.jsonl`` and
        ``environment.json`` directly.
    """

    def __init__(self, path: str | Path, *, shard: int | None = None) -> None:
        self.path = Path(path)
        self.shard = shard
        suffix = "" if shard is None else f".rank-{shard}"
        self.config_path = self.path / "config.yaml"
        self.plan_path = self.path / "shards.json"
        self.merged_path = self.path / "records.jsonl"
        self.records_path = self.path / f"records{suffix}.jsonl"
        self.environment_path = self.path / f"environment{suffix}.json"
        self.finished_path = self.path / f"finished{suffix}.json"

    def start(self, config: dict, *, resume: bool, defaults: dict | None = None) -> set[str]:
        """Prepare the directory and return the ids of prompts already done.

        Done means: in any records file of the directory, this process's own
        or another shard's. ``defaults`` fill the fields a saved config lacks
        (a run started by an older version, before the field existed).

        Raises
        ------
        UserInputError
            If the directory holds a run and ``resume`` is off, or ``resume``
            is on but the saved config differs from ``config``.
        """
        saved = None
        if self.config_path.exists():
            saved = yaml.safe_load(self.config_path.read_text(encoding="utf-8"))
        if not resume and self._holds_run(saved, config):
            raise UserInputError(
                f"{self.path} already holds a run; pass --resume to continue it "
                "or choose another --out"
            )
        if resume and saved is not None:
            saved = {**(defaults or {}), **saved}
            diff = sorted(k for k in set(saved) | set(config) if saved.get(k) != config.get(k))
            if diff:
                raise UserInputError(
                    f"cannot resume {self.path}: its config differs in {', '.join(diff)}; "
                    "rerun with the same options or choose another --out"
                )
        self.path.mkdir(parents=True, exist_ok=True)
        write_atomic(self.config_path, yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
        self._drop_truncated_tail()
        if self.shard is not None:
            self.finished_path.unlink(missing_ok=True)  # this launch has not finished yet
        return self.done_ids()

    def mark_finished(self) -> None:
        """Say that this shard's records file will not change again (decoded and re-timed).

        The merging rank waits for it: a rank still re-timing rewrites its
        records file, and a merge before that would lose the new attempts.
        """
        _write_json(self.finished_path, {})

    def _holds_run(self, saved: dict | None, config: dict) -> bool:
        """Whether starting afresh would mix with an earlier run."""
        if self.shard is None:
            return saved is not None or self.merged_path.exists()
        # The other shards of this very launch write config.yaml and their own
        # files at the same time, so only an equal config.yaml is not a sign
        # of an earlier run; this shard's own files and a merged run are.
        return (
            (saved is not None and saved != config)
            or self.merged_path.exists()
            or self.records_path.exists()
            or self.environment_path.exists()
        )

    def write_environment(self, environment: dict) -> None:
        """Write this process's environment file atomically.

        When the run is being resumed, the first environment stays and the new
        one is appended under ``resumes``: records written on another device
        or with other versions must stay traceable.
        """
        if self.environment_path.exists():
            first = json.loads(self.environment_path.read_text(encoding="utf-8"))
            first.setdefault("resumes", []).append(environment)
            environment = first
        _write_json(self.environment_path, environment)

    def write_plan(self, plan: ShardPlan) -> None:
        """Save the shard plan; every shard writes the same one."""
        _write_json(self.plan_path, plan.to_dict())

    def read_plan(self) -> ShardPlan | None:
        """Read the saved shard plan; ``None`` for a run that was never sharded.

        Raises
        ------
        UserInputError
            If ``shards.json`` is damaged.
        """
        if not self.plan_path.exists():
            return None
        try:
            return ShardPlan.from_dict(json.loads(self.plan_path.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError):
            raise UserInputError(
                f"{self.plan_path} is damaged; rerun any shard to rewrite it"
            ) from None

    def shard_files(self, kind: str = "records") -> dict[int, Path]:
        """Map rank to this directory's per-rank ``kind`` file (records, environment, finished)."""
        found = {}
        if self.path.is_dir():
            for entry in self.path.iterdir():
                match = _SHARD_FILE.match(entry.name)
                if match and match.group(1) == kind:
                    found[int(match.group(2))] = entry
        return dict(sorted(found.items()))

    def _record_files(self) -> list[Path]:
        """Every records file: the merged one first, then the shards by rank."""
        files = [self.merged_path, *self.shard_files().values()]
        return [f for f in dict.fromkeys(files) if f.exists()]

    def _drop_truncated_tail(self) -> None:
        """Cut a last line that a hard kill left without its newline (own file only)."""
        if not self.records_path.exists():
            return
        with self.records_path.open("rb+") as fh:
            data = fh.read()
            if data and not data.endswith(b"\n"):
                fh.truncate(data.rfind(b"\n") + 1)

    def done_ids(self) -> set[str]:
        """Ids of the prompts in any records file of the directory.

        Only reads: another shard may be appending right now, and its last,
        unfinished line is simply skipped.
        """
        return {prompt_id for path in self._record_files() for prompt_id, _ in _lines(path)}

    def read_records(self) -> list[dict]:
        """Parse this process's record lines, first removing a truncated last line.

        Raises
        ------
        UserInputError
            If a complete line is not valid JSON.
        """
        if not self.records_path.exists():
            return []
        self._drop_truncated_tail()
        return [json.loads(line) for _, line in _lines(self.records_path)]

    def rewrite(self, lines: list[str]) -> None:
        """Replace this process's records file atomically (after re-timing prompts).

        ``lines`` are the records' JSON lines (:meth:`PromptRecord.to_json`).
        The caller keeps them and re-serialises only a record it changed: the
        file is rewritten after every re-timed prompt, and serialising every
        record each time cost a default audit nearly as much as the re-timing
        itself. The whole file is written under a temporary name and renamed,
        so a kill leaves either the old records or the new ones, never a mix.
        """
        write_atomic(self.records_path, "".join(line + "\n" for line in lines))

    def append(self, record: PromptRecord) -> None:
        """Append one record line with a single write, then fsync."""
        data = (record.to_json() + "\n").encode("utf-8")
        fd = os.open(self.records_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    def merge(self, order: list[str]) -> MergeSummary:
        """Merge ``records.jsonl`` and every shard into ``records.jsonl``, in ``order``.

        The merged file and ``environment.json`` (with every rank's
        environment under ``ranks``) are written atomically before the shard
        record files are removed, so a kill at any point loses nothing; a
        later merge drops the copies such a kill can leave.

        Parameters
        ----------
        order : list of str
            Every prompt id of the run, in run order.

        Raises
        ------
        UserInputError
            If a prompt of ``order`` is in no records file, naming the shards
            that lack prompts.
        """
        shards = self.shard_files()
        merged = merge_records(order, (_lines(p) for p in self._record_files()))
        if merged.missing:
            raise UserInputError(self._incomplete_message(order, merged.missing))
        write_atomic(self.merged_path, "".join(line + "\n" for line in merged.lines))
        self._merge_environments()
        for path in [*shards.values(), *self.shard_files("finished").values()]:
            path.unlink()
        return MergeSummary(self.merged_path, len(merged.lines), len(shards), merged.n_duplicates)

    def _incomplete_message(self, order: list[str], missing: tuple[str, ...]) -> str:
        plan = self.read_plan()
        where = ""
        if plan is not None:
            counts = plan.missing(set(order) - set(missing))
            where = " (" + ", ".join(f"shard {k}/{plan.count}: {len(v)}" for k, v in counts.items())
            where += ")"
        return (
            f"{self.path} is incomplete: {len(missing)} prompts have no record{where}; "
            "finish them with the same `specaudit run ... --out "
            f"{self.path} --resume` (with --shard K/N for each shard listed), then merge"
        )

    def _merge_environments(self) -> None:
        """Put every rank's environment under ``ranks`` in ``environment.json``."""
        ranks = {
            k: json.loads(p.read_text(encoding="utf-8"))
            for k, p in self.shard_files("environment").items()
        }
        if not ranks:
            return
        merged_env = self.path / "environment.json"
        if merged_env.exists():
            base = json.loads(merged_env.read_text(encoding="utf-8"))
        else:
            # Readers of a single-process run find the familiar top-level
            # fields; they describe the lowest rank, and `ranks` all of them.
            base = {k: v for k, v in next(iter(ranks.values())).items() if k != "resumes"}
        base["ranks"] = [{"rank": k, **env} for k, env in ranks.items()]
        _write_json(merged_env, base)


def _write_json(path: Path, data: dict) -> None:
    write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _lines(path: Path) -> Iterator[tuple[str, str]]:
    """(prompt id, line) of each complete line of a records file.

    A last line without its newline is still being written, or was cut by a
    kill; it is skipped, never parsed.

    Raises
    ------
    UserInputError
        If a complete line is not valid JSON.
    """
    with path.open(encoding="utf-8", newline="\n") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.endswith("\n"):
                return
            if not line.strip():
                continue
            try:
                prompt_id = json.loads(line)["id"]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise UserInputError(
                    f"{path}:{number} is not a valid record; the run directory is damaged"
                ) from None
            yield prompt_id, line.rstrip("\n")
