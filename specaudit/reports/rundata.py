"""What a report reads from a run directory: the metrics result, config and environment.

Reports never import the audit package: the metrics come through
:class:`~specaudit.metrics.MetricsResult` (``metrics.json`` plus
``prompts.csv``), and ``config.yaml`` and ``environment.json`` are read as
plain YAML and JSON.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from specaudit.errors import UserInputError
from specaudit.metrics import MetricsResult

__all__ = ["RunData", "load_run"]


@dataclass(frozen=True)
class RunData:
    """One run directory, as far as reports are concerned.

    Attributes
    ----------
    run_dir : Path
        The run directory.
    result : MetricsResult
        ``metrics.json``, with the per-prompt table of ``prompts.csv`` when
        present (``result.prompts``).
    config : dict
        The resolved ``config.yaml`` (empty when the file is absent).
    environment : dict
        ``environment.json`` (empty when the file is absent).
    """

    run_dir: Path
    result: MetricsResult
    config: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The run directory's name, for headings."""
        return self.run_dir.resolve().name


def _read_mapping(path: Path, parse: Any, what: str) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = parse(path.read_text(encoding="utf-8"))
    except (ValueError, yaml.YAMLError, OSError) as err:
        raise UserInputError(f"cannot read {what} {path}: {err}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserInputError(f"{what} {path} does not hold a mapping")
    return data


def load_run(run_dir: str | os.PathLike[str]) -> RunData:
    """Read a run directory for a report.

    Parameters
    ----------
    run_dir : path
        A run directory with ``metrics.json`` (and usually ``prompts.csv``,
        ``config.yaml``, ``environment.json``).

    Returns
    -------
    RunData

    Raises
    ------
    UserInputError
        If the directory or its ``metrics.json`` is missing or unreadable.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserInputError(f"{run_dir} is not a directory; give a run directory")
    if not (run_dir / "metrics.json").is_file():
        raise UserInputError(
            f"{run_dir} has no metrics.json; compute it with `specaudit metrics {run_dir}`"
        )
    try:
        result = MetricsResult.read(run_dir)
    except (ValueError, KeyError, TypeError, OSError) as err:
        raise UserInputError(f"cannot read the metrics of {run_dir}: {err}") from None
    return RunData(
        run_dir=run_dir,
        result=result,
        config=_read_mapping(run_dir / "config.yaml", yaml.safe_load, "config"),
        environment=_read_mapping(run_dir / "environment.json", json.loads, "environment"),
    )
