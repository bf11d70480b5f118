"""The gate's entry points: evaluate a policy on a run, write the reports.

:func:`evaluate_gate` is pure (a policy and metrics in, a
:class:`~specaudit.gate.result.GateResult` out); :func:`run_gate` adds the
file handling around it for the CLI and ``specaudit run --gate``.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from specaudit.errors import RuntimeFailure, SpecAuditError, UserInputError
from specaudit.gate.baseline import baseline_rows
from specaudit.gate.checks import evaluate_checks
from specaudit.gate.junit import write_junit
from specaudit.gate.markdown import append_step_summary, write_summary
from specaudit.gate.policy import GatePolicy, load_policy, resolve_baseline, resolve_policy
from specaudit.gate.result import INCONCLUSIVE_CHOICES, GateResult, InconclusiveChoice, exit_code
from specaudit.metrics.compare import run_prompts
from specaudit.metrics.result import MetricsResult

__all__ = ["evaluate_gate", "read_metrics", "run_gate"]


def read_metrics(run_dir: str | os.PathLike[str], *, what: str = "run") -> MetricsResult:
    """Read ``metrics.json`` of a run directory (only that file).

    Raises
    ------
    UserInputError
        When the directory or file is missing or the file is not a metrics
        result this version can read.
    """
    run_dir = Path(run_dir)
    path = run_dir / "metrics.json"
    if not run_dir.is_dir():
        raise UserInputError(f"{what} directory {run_dir} does not exist")
    if not path.is_file():
        raise UserInputError(
            f"{what} {run_dir} has no metrics.json; compute it with `specaudit metrics {run_dir}`"
        )
    try:
        return MetricsResult.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except OSError as err:
        raise UserInputError(f"cannot read {path}: {err.strerror}") from None
    except KeyError as err:
        raise UserInputError(f"cannot read {path}: missing field {err}") from None
    except (ValueError, TypeError, AttributeError) as err:
        raise UserInputError(f"cannot read {path}: {err}".splitlines()[0]) from None


def evaluate_gate(
    policy: GatePolicy,
    metrics: MetricsResult,
    *,
    baseline: MetricsResult | None = None,
    prompts: tuple[pd.DataFrame, pd.DataFrame] | None = None,
    inconclusive: InconclusiveChoice = "block",
    run_dir: str = "run",
    policy_name: str = "policy",
    baseline_dir: str | None = None,
) -> GateResult:
    """Evaluate a policy on a run's metrics (and a baseline run's, if given).

    Parameters
    ----------
    policy : GatePolicy
        A validated policy.
    metrics : MetricsResult
        The run to gate.
    baseline : MetricsResult, optional
        A previous release's run with the same groups: adds the baseline
        section's speed-up drop checks.
    prompts : (DataFrame, DataFrame), optional
        The run's and the baseline's per-prompt tables, which the speed-up
        drop checks resample (:func:`specaudit.metrics.compare.run_prompts`);
        needed with ``baseline``.
    inconclusive : {"block", "fail", "pass"}
        What blocking inconclusive rows do to the exit code (4, 1 or 0).
    run_dir, policy_name, baseline_dir : str
        Labels for the reports.

    Returns
    -------
    GateResult

    Raises
    ------
    UserInputError
        For an unknown ``inconclusive``, a policy that does not fit the run,
        or a baseline with other groups.
    """
    if inconclusive not in INCONCLUSIVE_CHOICES:
        raise UserInputError(
            f"--inconclusive {inconclusive!r} is not allowed: expected one of "
            f"{', '.join(INCONCLUSIVE_CHOICES)}"
        )
    rows = evaluate_checks(resolve_policy(policy, metrics), metrics)
    notes = [f"metrics: {note}" for note in metrics.notes]
    if baseline is not None:
        if prompts is None:
            raise UserInputError(
                "a check against a baseline run resamples prompts: give both runs' prompt tables"
            )
        names = (run_dir, f"baseline {baseline_dir or 'run'}")
        rows += baseline_rows(metrics, baseline, resolve_baseline(policy), prompts, names=names)
    elif "baseline" in policy.model_fields_set:
        notes.append("the policy's baseline section was not used: no baseline run was given")
    return GateResult(
        run_dir=run_dir,
        policy=policy_name,
        baseline_dir=baseline_dir,
        reference=metrics.disparity.reference,
        confidence_level=metrics.settings.confidence_level,
        inconclusive=inconclusive,
        rows=rows,
        exit_code=exit_code(rows, inconclusive=inconclusive),
        notes=tuple(notes),
    )


def run_gate(
    run_dir: str | os.PathLike[str],
    policy_path: str | os.PathLike[str],
    *,
    junit: str | os.PathLike[str] | None = None,
    summary: str | os.PathLike[str] | None = None,
    baseline: str | os.PathLike[str] | None = None,
    inconclusive: InconclusiveChoice = "block",
    env: Mapping[str, str] | None = None,
) -> GateResult:
    """Gate a run directory against a policy file and write the reports.

    Parameters
    ----------
    run_dir : path
        A run directory with ``metrics.json``.
    policy_path : path
        The YAML policy (see :mod:`specaudit.gate.policy`).
    junit : path, optional
        Write JUnit XML here.
    summary : path, optional
        Write the Markdown summary here.
    baseline : path, optional
        A previous release's run directory; adds speed-up drop checks.
    inconclusive : {"block", "fail", "pass"}, default "block"
        Blocking inconclusive rows exit 4, 1 or 0.
    env : mapping, optional
        Environment for ``GITHUB_STEP_SUMMARY`` (default ``os.environ``);
        when it names a file, the summary is appended to it.

    Returns
    -------
    GateResult
        ``exit_code`` is 0 (pass), 1 (fail) or 4 (inconclusive);
        ``written`` lists the files written.

    Raises
    ------
    UserInputError
        Bad policy, run, baseline or option (exit code 2).
    RuntimeFailure
        Anything else that went wrong, such as an unwritable output (exit
        code 3), so that a crash is never mistaken for a failed check.
    """
    policy = load_policy(policy_path)
    metrics = read_metrics(run_dir)
    before = prompts = None
    if baseline is not None:
        before = read_metrics(baseline, what="baseline run")
        prompts = (
            run_prompts(run_dir, gamma=metrics.settings.gamma),
            run_prompts(baseline, gamma=before.settings.gamma),
        )
    try:
        result = evaluate_gate(
            policy,
            metrics,
            baseline=before,
            prompts=prompts,
            inconclusive=inconclusive,
            run_dir=str(run_dir),
            policy_name=str(policy_path),
            baseline_dir=None if baseline is None else str(baseline),
        )
        written = []
        if junit is not None:
            written.append(str(write_junit(result, junit)))
        if summary is not None:
            written.append(str(write_summary(result, summary)))
        step = append_step_summary(result, env)
        if step is not None:
            written.append(str(step))
    except SpecAuditError:
        raise
    except OSError as err:
        raise RuntimeFailure(
            f"gate could not write its output {err.filename}: {err.strerror}"
        ) from err
    except Exception as err:
        raise RuntimeFailure(f"gate failed: {type(err).__name__}: {err}") from err
    return dataclasses.replace(result, written=tuple(written))
