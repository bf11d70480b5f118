"""The whole pipeline in the library: run, metrics, report, gate.

``specaudit run`` and ``specaudit merge`` are thin layers over
:func:`run_pipeline` and :func:`finish_run`; a notebook gets the same files
and figures from Python::

    import specaudit

    config = specaudit.RunConfig(languages=["en", "de"], n_prompts=3)
    result = specaudit.run_pipeline(config, "runs/x")
    print(result.metrics.disparity.worst_group)

Messages go to ``log`` (silent by default; the CLI passes ``typer.echo``,
which takes the same ``err=`` keyword for warnings). Heavy modules (torch,
the models) are imported inside the functions that need them, so importing
this module stays light.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from specaudit.audit.config import RunConfig
from specaudit.errors import UserInputError

if TYPE_CHECKING:
    from specaudit.audit.runner import RunSummary
    from specaudit.audit.shard import ShardSpec
    from specaudit.gate.result import GateResult
    from specaudit.metrics.result import MetricsResult

__all__ = [
    "Log",
    "PipelineResult",
    "Run",
    "audit",
    "check_gate",
    "compute_metrics",
    "default_run_dir",
    "finish_run",
    "render_report",
    "run_pipeline",
]

#: Where messages go: ``log(text)``, or ``log(text, err=True)`` for warnings.
Log = Callable[..., None]


def _silent(text: str, *, err: bool = False) -> None:
    """Default :data:`Log`: say nothing."""


@dataclass(frozen=True)
class Run:
    """A finished audit run: its directory, configuration and environment.

    Attributes
    ----------
    directory : Path
        The run directory (``config.yaml``, ``environment.json``,
        ``records.jsonl``, and later ``metrics.json`` and ``report.html``).
    config : RunConfig
        The resolved configuration the run was made with.
    environment : dict
        Versions, device, dtype, threads and models (``environment.json``).
    """

    directory: Path
    config: RunConfig
    environment: dict[str, Any]

    @property
    def records_path(self) -> Path:
        """The run's ``records.jsonl``."""
        return self.directory / "records.jsonl"

    @property
    def records(self) -> list[dict[str, Any]]:
        """The run's records, one dict per prompt, read from ``records.jsonl``."""
        from specaudit.metrics import load_records

        return load_records(self.records_path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Run:
        """Read a run directory written by :func:`audit` (or ``specaudit run``).

        Raises
        ------
        UserInputError
            If ``path`` has no ``config.yaml`` or ``records.jsonl``, or its
            config is not valid.
        """
        from specaudit.audit.config import load_config

        directory = Path(path)
        for name in ("config.yaml", "records.jsonl"):
            if not (directory / name).is_file():
                raise UserInputError(f"{directory} has no {name}; give an audit run directory")
        env_path = directory / "environment.json"
        environment = json.loads(env_path.read_text(encoding="utf-8")) if env_path.is_file() else {}
        return cls(directory, load_config(directory / "config.yaml", {}), environment)


@dataclass(frozen=True)
class PipelineResult:
    """What :func:`run_pipeline` did.

    Attributes
    ----------
    summary : RunSummary
        The audit's own summary (prompts decoded now, losslessness, shard).
    run : Run or None
        The finished run; ``None`` for a shard whose merge is left to others.
    metrics : MetricsResult or None
        The figures written to ``metrics.json``; ``None`` as for ``run``.
    report : Path or None
        The HTML report written; ``None`` as for ``run``.
    gate : GateResult or None
        The gate's verdict when a policy was given.
    """

    summary: RunSummary
    run: Run | None = None
    metrics: MetricsResult | None = None
    report: Path | None = None
    gate: GateResult | None = None

    @property
    def exit_code(self) -> int:
        """The CLI's exit code: the gate's (0, 1 or 4), or 0 without a gate."""
        return 0 if self.gate is None else self.gate.exit_code


def default_run_dir() -> Path:
    """Name a fresh run directory: ``runs/run-<timestamp>``."""
    return Path("runs") / f"run-{dt.datetime.now():%Y%m%d-%H%M%S}"


def audit(
    config: RunConfig,
    out: str | os.PathLike[str],
    *,
    resume: bool = False,
    progress: bool = True,
) -> Run:
    """Audit a drafter-target pair: decode every prompt both ways and write the run.

    Parameters
    ----------
    config : RunConfig
        The run's settings; ``RunConfig()`` audits the built-in demo pair.
    out : path
        The run directory.
    resume : bool, default False
        Continue the run in ``out`` without redoing finished prompts.
    progress : bool, default True
        Show a progress bar.

    Returns
    -------
    Run

    Raises
    ------
    UserInputError
        For any bad input; nothing is decoded then.
    specaudit.audit.runner.AuditInterrupted
        On Ctrl-C, after the finished prompts are saved (resume them).
    """
    summary = _decode(config, out, resume=resume, progress=progress)
    return Run.load(summary.run_dir)


def _decode(
    config: RunConfig,
    out: str | os.PathLike[str],
    *,
    resume: bool,
    progress: bool,
    shard: ShardSpec | None = None,
    shard_by: str = "group",
) -> RunSummary:
    """Decode with the config's backend: the native engine, vLLM or a server."""
    if config.backend == "native":
        from specaudit.audit.runner import run_audit

        return run_audit(
            config, out, resume=resume, progress=progress, shard=shard, shard_by=shard_by
        )
    if shard is not None:
        raise UserInputError(
            f"--shard needs the native backend; the {config.backend} backend "
            "scales with the serving engine's own parallelism (docs/serving.md)"
        )
    from specaudit.audit.backends.run import run_backend_audit

    if config.backend == "vllm":
        from specaudit.audit.backends.vllm_engine import VLLMBackend as make
    else:
        from specaudit.audit.backends.openai_client import OpenAIBackend as make
    return run_backend_audit(config, out, make, resume=resume, progress=progress)


def compute_metrics(
    source: Run | str | os.PathLike[str] | Iterable[Mapping[str, Any]], **options: Any
) -> MetricsResult:
    """Compute every figure of a run, with intervals (nothing is written).

    Parameters
    ----------
    source : Run, path or iterable of dict
        A :class:`Run`, a run directory, a ``records.jsonl`` file, or the
        records themselves.
    **options
        Passed to :func:`specaudit.metrics.compute_metrics`
        (``reference_language``, ``n_boot``, ``seed``, ``min_prompts``, ...).

    Returns
    -------
    MetricsResult
        Write it with ``result.write(run_dir)``.

    Raises
    ------
    UserInputError
        If the records cannot be read or are not records this version reads.
    """
    from specaudit.metrics import compute_metrics as compute
    from specaudit.metrics import load_records

    if isinstance(source, Run):
        source = source.records_path
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        path = path / "records.jsonl" if path.is_dir() else path
        try:
            return compute(load_records(path), **options)
        except (ValueError, OSError) as err:
            raise UserInputError(f"cannot compute metrics for {path.parent}: {err}") from None
    return compute(source, **options)


def render_report(
    run: Run | str | os.PathLike[str],
    *,
    compare: Run | str | os.PathLike[str] | None = None,
    gate: GateResult | None = None,
    out: str | os.PathLike[str] | None = None,
    training: str | os.PathLike[str] | None = None,
) -> Path:
    """Write a run's HTML report (``report.html``), or a before/after comparison.

    Parameters
    ----------
    run : Run or path
        A run with ``metrics.json`` (the *after* run with ``compare``).
    compare : Run or path, optional
        The *before* run: write ``comparison.html`` instead.
    gate : GateResult, optional
        A verdict to show in the single-run report.
    out : path, optional
        The report file; default inside the run directory.
    training : path, optional
        A mitigation's ``training.csv`` (comparisons only).

    Returns
    -------
    Path
        The file written.
    """
    from specaudit.reports import render_comparison
    from specaudit.reports import render_report as render

    run_dir = run.directory if isinstance(run, Run) else Path(run)
    if compare is None:
        return render(run_dir, gate=gate, out=out)
    before = compare.directory if isinstance(compare, Run) else Path(compare)
    return render_comparison(run_dir, before, out=out, training=training)


def check_gate(
    run: Run | str | os.PathLike[str], policy: str | os.PathLike[str], **options: Any
) -> GateResult:
    """Check a run against a release policy (as ``specaudit gate``).

    Parameters
    ----------
    run : Run or path
        A run with ``metrics.json``.
    policy : path
        The YAML policy.
    **options
        ``junit``, ``summary``, ``baseline`` (a previous release's run),
        ``inconclusive``: see :func:`specaudit.gate.run_gate`.

    Returns
    -------
    GateResult
        ``exit_code`` is 0 (pass), 1 (fail) or 4 (inconclusive).
    """
    from specaudit.gate import run_gate

    run_dir = run.directory if isinstance(run, Run) else Path(run)
    return run_gate(run_dir, policy, **options)


def finish_run(
    run_dir: str | os.PathLike[str],
    *,
    policy: str | os.PathLike[str] | None = None,
    log: Log = _silent,
) -> tuple[MetricsResult, Path, GateResult | None]:
    """Compute and write a finished run's metrics, gate it, then write its report.

    Returns
    -------
    (MetricsResult, Path, GateResult or None)
        The metrics, the report file and the gate's verdict (with a policy).
    """
    from specaudit.gate import format_text
    from specaudit.reports.console import format_summary

    run_dir = Path(run_dir)
    metrics = compute_metrics(run_dir)
    paths = metrics.write(run_dir)
    log(format_summary(metrics))
    log("metrics: " + ", ".join(str(p) for p in paths))
    gate = None
    if policy is not None:
        gate = check_gate(run_dir, policy)
        log(format_text(gate))
        if gate.written:
            log("gate reports: " + ", ".join(gate.written))
    report = render_report(run_dir, gate=gate)
    log(f"report: {report}")
    return metrics, report, gate


def run_pipeline(
    config: RunConfig,
    out: str | os.PathLike[str] | None = None,
    *,
    policy: str | os.PathLike[str] | None = None,
    resume: bool = False,
    progress: bool = True,
    shard: ShardSpec | None = None,
    shard_by: str = "group",
    log: Log = _silent,
) -> PipelineResult:
    """Run the whole pipeline: audit, metrics, gate (with a policy), report.

    This is what ``specaudit run`` does; the files and figures are the same.

    Parameters
    ----------
    config : RunConfig
        The run's settings.
    out : path, optional
        The run directory; default ``runs/run-<timestamp>``.
    policy : path, optional
        A gate policy YAML; it is validated before anything is decoded.
    resume : bool, default False
        Continue the run in ``out`` (which must then be given).
    progress : bool, default True
        Show a progress bar.
    shard : ShardSpec, optional
        Decode only this shard (e.g. a Slurm array task); the merge, metrics
        and report are then left to ``specaudit merge`` (:func:`finish_run`).
    shard_by : {"group", "prompt"}, default "group"
        Deal whole (language, task) groups to shards, or prompts.
    log : callable, optional
        Where progress messages go (see :data:`Log`).

    Returns
    -------
    PipelineResult

    Raises
    ------
    UserInputError
        For any bad input, before anything is decoded.
    specaudit.audit.runner.AuditInterrupted
        On Ctrl-C, after the finished prompts are saved.
    """
    from specaudit.audit.shard import SHARD_STRATEGIES

    if shard_by not in SHARD_STRATEGIES:
        raise UserInputError(f"--shard-by {shard_by!r} is not valid; use group or prompt")
    if policy is not None:  # a bad policy must not cost a whole audit
        from specaudit.gate.policy import load_policy

        load_policy(policy)
    if out is None:
        if resume:
            raise UserInputError("--resume needs --out naming the run to continue")
        out = default_run_dir()
    summary = _decode(config, out, resume=resume, progress=progress, shard=shard, shard_by=shard_by)
    if not summary.complete:
        _log_shard_done(summary, log, by_hand=shard is not None)
        return PipelineResult(summary)
    log_merged(summary.merged, log)
    n_prompts = summary.merged.n_records if summary.merged else summary.n_prompts
    log(
        f"records: {summary.run_dir / 'records.jsonl'} "
        f"({n_prompts} prompts, {summary.n_new} decoded now)"
    )
    if summary.n_not_lossless and config.backend != "native":
        # Batched serving may break near-ties differently (docs/serving.md): a note, not a bug.
        log(
            f"note: {summary.n_not_lossless}/{summary.n_prompts} greedy outputs differ between "
            "the speculative and the plain engine (see 'identical outputs' in the metrics)",
            err=True,
        )
    elif summary.n_not_lossless:
        log(
            f"WARNING: {summary.n_not_lossless} greedy prompts were NOT lossless "
            "(speculative output differs from plain decoding)",
            err=True,
        )
    metrics, report, gate = finish_run(summary.run_dir, policy=policy, log=log)
    return PipelineResult(summary, Run.load(summary.run_dir), metrics, report, gate)


def _log_shard_done(summary: RunSummary, log: Log, *, by_hand: bool) -> None:
    """Say where a shard's records went and who merges them."""
    shard = summary.shard
    log(
        f"shard {shard}: {summary.n_prompts} prompts in "
        f"{summary.run_dir / f'records.rank-{shard.index}.jsonl'} ({summary.n_new} decoded now)"
    )
    if summary.n_not_lossless:
        log(f"WARNING: {summary.n_not_lossless} greedy prompts were NOT lossless", err=True)
    if by_hand:
        log(f"when every shard has finished: specaudit merge {summary.run_dir}")
    else:
        log("rank 0 merges the shards and writes metrics and the report")


def log_merged(merged: Any, log: Log) -> None:
    """Say what a merge of shard files did (nothing when there was none)."""
    if merged is None:
        return
    log(
        f"merged {merged.n_shard_files} shard file{'s' * (merged.n_shard_files != 1)} "
        f"into {merged.path} "
        f"({merged.n_records} prompts"
        + (f"; dropped {merged.n_duplicates} duplicate copies" if merged.n_duplicates else "")
        + ")"
    )
