"""Prompt sets: JSONL files with one prompt per line, and the built-in sets.

Each line is an object with ``id``, ``language``, ``task`` and ``prompt``,
and optionally ``item_id`` (links parallel prompts across languages),
``split`` (``eval``, ``heldout``, ``train`` …) and ``reference`` (an expected
output, e.g. a reference translation). Other fields are kept but ignored.
Files may be gzip-compressed (``.jsonl.gz``).
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from specaudit.errors import UserInputError, validation_problems

__all__ = [
    "Problem",
    "Prompt",
    "builtin_prompt_dir",
    "count_prompts",
    "load_prompts",
    "select_prompts",
    "validate_prompt_file",
]

_LANGUAGE = re.compile(r"^[a-z]{2,3}([_-][A-Za-z0-9]{2,8})*$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class _Row(BaseModel):
    """Schema of one prompt line."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=False)

    id: str = Field(min_length=1)
    language: str
    task: str
    prompt: str = Field(min_length=1)
    item_id: str | None = None
    split: str | None = None
    reference: str | None = None

    @field_validator("id", "item_id", mode="before")
    @classmethod
    def _ids_as_text(cls, value):
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("language")
    @classmethod
    def _language_code(cls, value: str) -> str:
        if not _LANGUAGE.match(value):
            raise ValueError(f"{value!r} is not a language code like 'en', 'sw' or 'pt-BR'")
        return value

    @field_validator("task", "split")
    @classmethod
    def _plain_name(cls, value: str | None) -> str | None:
        if value is not None and not _NAME.match(value):
            raise ValueError(f"{value!r} must be a plain name (letters, digits, _ . -)")
        return value

    @field_validator("prompt")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("prompt is blank")
        return value


@dataclass(frozen=True)
class Prompt:
    """One prompt and its group (language, task)."""

    id: str
    language: str
    task: str
    prompt: str
    item_id: str | None = None
    split: str | None = None
    reference: str | None = None

    @property
    def group(self) -> tuple[str, str]:
        """The (language, task) cell this prompt belongs to."""
        return (self.language, self.task)

    def record_fields(self) -> dict[str, str | None]:
        """Return the fields a :class:`~specaudit.records.PromptRecord` copies from its prompt."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a prompt file."""

    path: str
    line: int  #: 1-based; 0 for the file as a whole
    message: str

    def __str__(self) -> str:
        where = f"{self.path}, line {self.line}" if self.line else self.path
        return f"{where}: {self.message}"


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def _describe(err: ValidationError) -> str:
    return "; ".join(validation_problems(err.errors()))


def _read_file(path: Path) -> tuple[list[Prompt], list[Problem]]:
    prompts, problems = [], []
    try:
        with _open_text(path) as fh:
            lines = list(fh)
    except (OSError, UnicodeDecodeError, EOFError) as err:
        return [], [Problem(str(path), 0, f"cannot be read ({err})")]
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as err:
            problems.append(Problem(str(path), number, f"not valid JSON ({err.msg})"))
            continue
        if not isinstance(data, dict):
            problems.append(Problem(str(path), number, "not a JSON object"))
            continue
        try:
            row = _Row.model_validate(data)
        except ValidationError as err:
            problems.append(Problem(str(path), number, _describe(err)))
            continue
        prompts.append(
            Prompt(
                row.id, row.language, row.task, row.prompt, row.item_id, row.split, row.reference
            )
        )
    if not prompts and not problems:
        problems.append(Problem(str(path), 0, "holds no prompts"))
    return prompts, problems


def _files(source: Path) -> list[Path]:
    if source.is_dir():
        return sorted(p for p in source.iterdir() if p.name.endswith((".jsonl", ".jsonl.gz")))
    return [source]


def validate_prompt_file(path: str | Path) -> list[Problem]:
    """Every problem in a prompt file (or directory of them), with line numbers."""
    source = Path(path)
    if not source.exists():
        return [Problem(str(source), 0, "does not exist")]
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for file in _files(source):
        prompts, file_problems = _read_file(file)
        problems.extend(file_problems)
        for p in prompts:
            if p.id in seen:
                problems.append(
                    Problem(str(file), 0, f"duplicate prompt id {p.id!r} (also in {seen[p.id]})")
                )
            seen.setdefault(p.id, str(file))
    return problems


def builtin_prompt_dir() -> Path:
    """Directory of the built-in prompt sets shipped with the package."""
    return Path(str(resources.files("specaudit") / "data" / "prompts"))


def load_prompts(sources: Sequence[str | Path]) -> list[Prompt]:
    """Load prompt files or directories, in order.

    Raises
    ------
    UserInputError
        On a missing path, an unreadable or malformed file (naming the first
        bad line), duplicate ids, or no prompts at all.
    """
    prompts: list[Prompt] = []
    seen: dict[str, Path] = {}
    for source in map(Path, sources):
        if not source.exists():
            raise UserInputError(f"prompt path {source} does not exist; check --prompts")
        files = _files(source)
        if not files:
            raise UserInputError(f"{source} holds no .jsonl prompt files")
        for file in files:
            found, problems = _read_file(file)
            if problems:
                more = (
                    f" (and {len(problems) - 1} more; run `specaudit prompts validate {file}`)"
                    if len(problems) > 1
                    else ""
                )
                raise UserInputError(f"bad prompt file: {problems[0]}{more}")
            for p in found:
                if p.id in seen:
                    raise UserInputError(
                        f"prompt id {p.id!r} appears in both {seen[p.id]} and {file}; "
                        "ids must be unique"
                    )
                seen[p.id] = file
            prompts.extend(found)
    if not prompts:
        raise UserInputError("the prompt set is empty; pass --prompts with at least one prompt")
    return prompts


def count_prompts(prompts: Iterable[Prompt]) -> list[dict]:
    """Prompts per (language, task, split), sorted; split ``None`` reads as "-"."""
    from collections import Counter

    counts = Counter((p.language, p.task, p.split or "-") for p in prompts)
    return [
        {"language": lang, "task": task, "split": split, "count": n}
        for (lang, task, split), n in sorted(counts.items())
    ]


def _check_known(kind: str, asked: Iterable[str], available: set[str]) -> None:
    unknown = [x for x in asked if x not in available]
    if unknown:
        raise UserInputError(
            f"unknown {kind} {', '.join(map(repr, unknown))}: the prompt sets have "
            f"{', '.join(sorted(available))}"
        )


def select_prompts(
    prompts: Sequence[Prompt],
    *,
    languages: Sequence[str] | None = None,
    tasks: Sequence[str] | None = None,
    split: str | None = None,
    n_per_group: int | None = None,
) -> list[Prompt]:
    """Filter prompts and order them round-robin across groups.

    Rows without a ``split`` are kept whatever ``split`` asks for. The first
    ``n_per_group`` prompts of each (language, task) group are kept, in file
    order. Groups are then interleaved, so slow drift of the machine during a
    long run touches every group alike instead of confounding one.

    Raises
    ------
    UserInputError
        For a language or task not in the prompt sets, or an empty selection.
    """
    if languages:
        _check_known("language", languages, {p.language for p in prompts})
    if tasks:
        _check_known("task", tasks, {p.task for p in prompts})
    groups: dict[tuple[str, str], list[Prompt]] = {}
    for p in prompts:
        if languages and p.language not in languages:
            continue
        if tasks and p.task not in tasks:
            continue
        if split and p.split is not None and p.split != split:
            continue
        bucket = groups.setdefault(p.group, [])
        if n_per_group is None or len(bucket) < n_per_group:
            bucket.append(p)
    if not groups:
        raise UserInputError(
            f"no prompts match (split={split!r}, languages={languages}, tasks={tasks})"
        )
    buckets = list(groups.values())
    depth = max(map(len, buckets))
    return [b[i] for i in range(depth) for b in buckets if i < len(b)]
