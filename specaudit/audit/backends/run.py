"""Run an audit through a serving backend: prompts in, records out.

The prompt selection, the chat template, the run directory and resuming are
the native runner's own (:mod:`specaudit.audit.runner`); only the decoding
differs. Prompts are sent in chunks of ``--concurrency`` requests; each
prompt's record is appended as soon as its chunk is done, so an interrupted
or failed run keeps every finished prompt and no half-written one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from tqdm.auto import tqdm

from specaudit.audit.backends.completion import Completion, build_record
from specaudit.audit.config import RunConfig
from specaudit.audit.environment import host_environment
from specaudit.audit.prompts import Prompt
from specaudit.audit.rundir import RunDir
from specaudit.audit.runner import (
    AuditInterrupted,
    RunSummary,
    check_lengths,
    config_prompts,
    encode,
)
from specaudit.errors import UserInputError

__all__ = ["Backend", "BackendUnavailable", "run_backend_audit"]


class BackendUnavailable(UserInputError):
    """The engine or server stopped answering; finished prompts are saved (exit 2)."""


class Backend(Protocol):
    """What a serving backend offers the runner."""

    tokenizer: object  #: the target's tokenizer (for prompts and lengths)
    device_name: str  #: hardware label written into every record
    neural_drafter: bool  #: whether drafting runs a model (counts drafter forwards)

    def describe(self) -> dict:
        """Engine, versions and speculative set-up, for ``environment.json``."""

    def generate(
        self, batch: Sequence[list[int]], *, speculative: bool, seeds: Sequence[int]
    ) -> list[Completion]:
        """Decode ``batch`` (token ids) together, ``--concurrency`` at a time."""

    def has_baseline(self) -> bool:
        """Whether plain decodes are available (the openai backend needs a baseline URL)."""

    def close(self) -> None:
        """Free the engines or connections."""


@dataclass(frozen=True)
class _Todo:
    prompt: Prompt
    ids: list[int]


def run_backend_audit(
    config: RunConfig,
    out: str | Path,
    make_backend: Callable[[RunConfig], Backend],
    *,
    resume: bool = False,
    progress: bool = True,
) -> RunSummary:
    """Audit through a serving backend into run directory ``out``.

    Parameters
    ----------
    config : RunConfig
        The resolved configuration (``backend`` is ``"vllm"`` or ``"openai"``).
    out : path
        Run directory.
    make_backend : callable
        Builds the backend from the config (starts engines or checks servers).
    resume : bool
        Continue a run in ``out``.
    progress : bool
        Show a progress bar.

    Raises
    ------
    UserInputError
        For bad input, and :class:`BackendUnavailable` when the engine or
        server stops answering (finished prompts stay saved).
    AuditInterrupted
        On Ctrl-C, after the finished prompts are on disk.
    """
    selection = config_prompts(config)
    backend = make_backend(config)
    try:
        encoded = [_Todo(p, encode(backend.tokenizer, p, config)) for p in selection]
        # The served model's context is the engine's to check.
        check_lengths([(t.prompt, t.ids) for t in encoded], {}, config.max_new_tokens)
        run_dir = RunDir(out)
        done = run_dir.start(
            config.model_dump(mode="json"),
            resume=resume,
            defaults=RunConfig().model_dump(mode="json"),
        )
        run_dir.write_environment(_environment(config, backend))
        todo = [t for t in encoded if t.prompt.id not in done]
        n_new, n_mismatch = _decode_all(
            backend, config, todo, run_dir, total=len(encoded), progress=progress
        )
    finally:
        backend.close()
    return RunSummary(run_dir.path, len(encoded), n_new, n_mismatch)


def _environment(config: RunConfig, backend: Backend) -> dict:
    return {
        **host_environment(seed=config.seed),
        "device_name": backend.device_name,
        "backend": config.backend,
        "concurrency": config.concurrency,
        **backend.describe(),
    }


def _decode_all(
    backend: Backend,
    config: RunConfig,
    todo: list[_Todo],
    run_dir: RunDir,
    *,
    total: int,
    progress: bool,
) -> tuple[int, int]:
    """Decode ``todo`` chunk by chunk; return (new prompts, greedy mismatches)."""
    from specaudit.audit.attempts import derive_seed

    greedy = config.mode == "greedy"
    bar = tqdm(total=total, initial=total - len(todo), disable=not progress, unit="prompt")
    n_new = n_mismatch = 0
    try:
        for start in range(0, len(todo), config.concurrency):
            chunk = todo[start : start + config.concurrency]
            batch = [t.ids for t in chunk]
            seeds = [derive_seed(config.seed, t.prompt.id, "spec") for t in chunk]
            # Speculative first, then plain: each engine sees the same load.
            spec = backend.generate(batch, speculative=True, seeds=seeds)
            plain = (
                backend.generate(batch, speculative=False, seeds=seeds)
                if backend.has_baseline()
                else [None] * len(chunk)
            )
            records = [
                build_record(
                    t.prompt,
                    t.ids,
                    s,
                    p,
                    greedy=greedy,
                    seed=config.seed,
                    device_name=backend.device_name,
                    neural_drafter=backend.neural_drafter,
                    max_new_tokens=config.max_new_tokens,
                )
                for t, s, p in zip(chunk, spec, plain, strict=True)
            ]
            # Only whole chunks reach the file, each record in one write.
            for record in records:
                run_dir.append(record)
                n_new += 1
                n_mismatch += record.lossless is False
            bar.update(len(chunk))
    except KeyboardInterrupt:
        bar.close()
        raise AuditInterrupted(run_dir.path, total - len(todo) + n_new, total) from None
    except BackendUnavailable as err:
        bar.close()
        done = total - len(todo) + n_new
        raise BackendUnavailable(
            f"{err}; {done}/{total} prompts saved in {run_dir.path}: "
            f"continue with --out {run_dir.path} --resume"
        ) from None
    bar.close()
    return n_new, n_mismatch
