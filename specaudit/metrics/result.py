"""The typed metrics result, its JSON form and its writer.

A :class:`MetricsResult` is built by :func:`specaudit.metrics.compute_metrics`
from a run's records. It round-trips through JSON (:meth:`MetricsResult.to_dict`
and :meth:`MetricsResult.from_dict`) and is written to a run directory as

``metrics.json``
    Everything except the per-prompt table, with ``schema_version``. Every
    figure is an estimate object ``{estimate, ci_low, ci_high, status}``;
    undefined values are ``null``, never ``NaN``.
``groups.csv``
    One row per (language, task) group: each metric as three columns
    ``<name>``, ``<name>_ci_low``, ``<name>_ci_high``.
``prompts.csv``
    One row per prompt with its own ratios (speed-up, acceptance, ...).

Each file is written to a temporary file in the same directory and moved into
place with :func:`os.replace`, so a reader never sees a half-written file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import pandas as pd

from specaudit.atomic import write_atomic
from specaudit.metrics.estimate import (
    STATUS_INSUFFICIENT,
    STATUS_OK,
    ContrastEstimate,
    Estimate,
    finite_or_none,
)
from specaudit.metrics.quality_result import GroupQuality
from specaudit.metrics.timing import TimingHealth

__all__ = [
    "GROUP_METRICS",
    "SCHEMA_VERSION",
    "STATUS_INSUFFICIENT",
    "STATUS_OK",
    "Contrast",
    "ContrastEstimate",
    "Disparity",
    "Estimate",
    "GroupMetrics",
    "MetricsResult",
    "MetricsSettings",
    "TaskDisparity",
]

#: Version of the ``metrics.json`` layout. Bump on any change of meaning.
#: 2: ``speedup`` is the robust headline (timing outliers replaced by the cost
#: model), ``speedup_raw`` and ``speedup_modelled`` join it, and ``timing``
#: holds the run's timing health and cost models.
SCHEMA_VERSION = 2
#: Versions :meth:`MetricsResult.from_dict` reads (1: ``timing`` is absent).
READABLE_SCHEMA_VERSIONS = (1, 2)

#: Scalar per-group metrics, in JSON and CSV order (``position_acceptance``,
#: a list, follows them).
GROUP_METRICS: tuple[str, ...] = (
    "acceptance_rate",
    "draft_acceptance_rate",
    "mean_accepted_length",
    "distributional_alpha_token",
    "distributional_alpha_prompt",
    "speedup",
    "speedup_raw",
    "speedup_modelled",
    "speedup_median",
    "speedup_q1",
    "speedup_q3",
    "share_slower",
    "c",
    "analytic_speedup",
    "analytic_speedup_prompt_avg",
    "break_even_alpha",
    "break_even_margin",
    "cross_entropy",
    "kl",
    "tv",
    "tokens_per_char",
    "chars_per_s_plain",
    "chars_per_s_spec",
    "tokens_per_s_plain",
    "tokens_per_s_spec",
    "bound_tv",
    "bound_kl",
    "bound_ce",
)


@dataclass(frozen=True)
class GroupMetrics:
    """All per-group figures of one (language, task) group.

    See :mod:`specaudit.metrics.group` for the definition of every metric.
    ``quality`` holds the output-quality figures
    (:class:`~specaudit.metrics.quality_result.GroupQuality`); it is ``None``
    in results written before they existed.
    """

    language: str
    task: str
    n_prompts: int
    n_steps: int
    status: str
    acceptance_rate: Estimate
    draft_acceptance_rate: Estimate
    mean_accepted_length: Estimate
    position_acceptance: tuple[Estimate, ...]
    distributional_alpha_token: Estimate
    distributional_alpha_prompt: Estimate
    speedup: Estimate
    speedup_raw: Estimate
    speedup_modelled: Estimate
    speedup_median: Estimate
    speedup_q1: Estimate
    speedup_q3: Estimate
    share_slower: Estimate
    c: Estimate
    analytic_speedup: Estimate
    analytic_speedup_prompt_avg: Estimate
    break_even_alpha: Estimate
    break_even_margin: Estimate
    cross_entropy: Estimate
    kl: Estimate
    tv: Estimate
    tokens_per_char: Estimate
    chars_per_s_plain: Estimate
    chars_per_s_spec: Estimate
    tokens_per_s_plain: Estimate
    tokens_per_s_spec: Estimate
    bound_tv: Estimate
    bound_kl: Estimate
    bound_ce: Estimate
    quality: GroupQuality | None = None

    @property
    def group(self) -> str:
        """The group key ``"language/task"``."""
        return f"{self.language}/{self.task}"

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form (with a derived ``group`` key)."""
        out: dict[str, Any] = {"group": self.group}
        for f in fields(self):
            out[f.name] = _json_value(getattr(self, f.name))
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GroupMetrics:
        """Build from the JSON form written by :meth:`to_dict`.

        Figures added after a ``metrics.json`` was written (throughput in
        tokens per second, ``quality``) read as undefined (``None``).
        """
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "quality":
                raw = data.get("quality")
                values[f.name] = None if raw is None else GroupQuality.from_dict(raw)
                continue
            if f.name in GROUP_METRICS and f.name not in data:
                values[f.name] = Estimate.of(None)
                continue
            raw = data[f.name]
            if f.name == "position_acceptance":
                values[f.name] = tuple(Estimate.from_dict(e) for e in raw)
            elif f.name in GROUP_METRICS:
                values[f.name] = Estimate.from_dict(raw)
            else:
                values[f.name] = raw
        return cls(**values)

    def csv_row(self) -> dict[str, Any]:
        """Flatten to one ``groups.csv`` row."""
        row: dict[str, Any] = {
            "group": self.group,
            "language": self.language,
            "task": self.task,
            "n_prompts": self.n_prompts,
            "n_steps": self.n_steps,
            "status": self.status,
        }
        named = [(name, getattr(self, name)) for name in GROUP_METRICS]
        named += [
            (f"position_acceptance_{i}", e) for i, e in enumerate(self.position_acceptance, 1)
        ]
        for name, est in named:
            row[name] = est.estimate
            row[f"{name}_ci_low"] = est.ci_low
            row[f"{name}_ci_high"] = est.ci_high
        if self.quality is not None:
            row.update(self.quality.csv_columns())
        return row


@dataclass(frozen=True)
class Contrast:
    """One group against its reference group.

    Attributes
    ----------
    group, reference : str
        Group keys ``"language/task"``.
    resampling : str
        ``"cluster"`` when both groups share ``item_id``s and items were
        resampled as clusters, else ``"stratified"`` (independent resampling
        of each group's prompts).
    n_clusters : int or None
        Number of items resampled under ``"cluster"``.
    speedup_ratio : ContrastEstimate
        Group speed-up / reference speed-up; 1.0 means no disparity.
    acceptance_diff : ContrastEstimate
        Group acceptance_rate - reference acceptance_rate; 0.0 means no
        disparity.
    """

    group: str
    language: str
    task: str
    reference: str
    n_prompts: int
    n_reference_prompts: int
    resampling: str
    n_clusters: int | None
    speedup_ratio: ContrastEstimate
    acceptance_diff: ContrastEstimate

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {f.name: _json_value(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Contrast:
        """Build from the JSON form written by :meth:`to_dict`."""
        values = {f.name: data[f.name] for f in fields(cls)}
        for name in ("speedup_ratio", "acceptance_diff"):
            values[name] = ContrastEstimate.from_dict(data[name])
        return cls(**values)


def _spread_from_dict(cls: type, data: dict[str, Any]) -> Any:
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in data and f.name in _ADDED_SPREAD_FIELDS:
            continue  # written before the field existed: its default says "not computed"
        raw = data[f.name]
        if f.name in ("groups", "floor_dominated"):
            values[f.name] = tuple(raw)
        elif f.name in _SPREAD_ESTIMATES:
            values[f.name] = Estimate.from_dict(raw)
        elif f.name == "contrasts":
            values[f.name] = tuple(Contrast.from_dict(c) for c in raw)
        elif f.name == "by_task":
            values[f.name] = tuple(TaskDisparity.from_dict(t) for t in raw)
        else:
            values[f.name] = raw
    return cls(**values)


_SPREAD_ESTIMATES = (
    "unfairness_u",
    "speedup_variance",
    "speedup_min_max_ratio",
    "speedup_cv",
    "share_slower",
    "unfairness_u_entropy",
    "unfairness_u_kl",
    "unfairness_u_covariance",
    "unfairness_u_tv",
)
#: Spread fields added after schema version 1 shipped; files without them
#: still read, with the fields undefined (same meaning of every other field).
_ADDED_SPREAD_FIELDS = (
    "unfairness_u_entropy",
    "unfairness_u_kl",
    "unfairness_u_covariance",
    "unfairness_u_tv",
    "floor_dominated",
)


def _undefined() -> Estimate:
    return Estimate.of(None)


@dataclass(frozen=True)
class TaskDisparity:
    """Spread of the groups of one task (within-task disparity).

    Same figures as the across-all ones of :class:`Disparity`, computed over
    the groups of ``task`` only.
    """

    task: str
    groups: tuple[str, ...]
    unfairness_u: Estimate
    speedup_variance: Estimate
    speedup_min_max_ratio: Estimate
    speedup_cv: Estimate
    worst_group: str | None
    share_slower: Estimate
    unfairness_u_entropy: Estimate = field(default_factory=_undefined)
    unfairness_u_kl: Estimate = field(default_factory=_undefined)
    unfairness_u_covariance: Estimate = field(default_factory=_undefined)
    unfairness_u_tv: Estimate = field(default_factory=_undefined)
    floor_dominated: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {f.name: _json_value(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskDisparity:
        """Build from the JSON form written by :meth:`to_dict`."""
        return _spread_from_dict(cls, data)


@dataclass(frozen=True)
class Disparity:
    """Disparity across groups.

    The spread figures here are **across all groups** of the run (every
    language and task, each group weighted equally); ``by_task`` repeats them
    **within each task**. Only groups with enough prompts enter (``groups``).

    Attributes
    ----------
    unfairness_u : Estimate
        U = (1/m) sum_i (D_i - mean D)^2, population variance of the groups'
        mean cross-entropy D_i. 0 means no disparity. Equals
        ``unfairness_u_entropy + unfairness_u_kl + unfairness_u_covariance``
        (``docs/method.md#u-decomposition``).
    speedup_variance : Estimate
        Population variance of the group speed-ups. 0 means no disparity.
    speedup_min_max_ratio : Estimate
        Smallest over largest group speed-up; 1 means no disparity. Biased
        low: with equal groups, sampling noise alone pushes it below 1, and
        its bootstrap interval rarely covers 1. Gate on ``contrasts``.
    speedup_cv : Estimate
        Coefficient of variation (population std / mean) of group speed-ups.
    worst_group : str or None
        The group with the smallest speed-up.
    share_slower : Estimate
        Share of all prompts of these groups that speculation made slower.
    reference : str
        ``"<language>"`` (that language's group in each task) or an explicit
        ``"<language>/<task>"`` reference group.
    contrasts : tuple of Contrast
        Every other group against its reference.
    by_task : tuple of TaskDisparity
        The spread figures within each task.
    unfairness_u_entropy : Estimate
        Var(H) over groups, H_i the target's own mean entropy (D_i - KL_i):
        the part of U no drafter can change.
    unfairness_u_kl : Estimate
        U_KL = Var(KL) over groups: the drafter's misfit spread.
    unfairness_u_covariance : Estimate
        2 Cov(H, KL) over groups, the rest of U.
    unfairness_u_tv : Estimate
        U_TV = Var(1 - alpha) over groups, alpha the token-pooled
        distributional acceptance. Finite for every drafter, including those
        whose q has zeros.
    floor_dominated : tuple of str
        Groups whose cross-entropy and KL are set by the log-q floor (the
        drafter gives probability 0 to tokens the target rates,
        ``docs/method.md#floor``). When not empty, U and its parts say little
        about the drafter's fit; read ``unfairness_u_tv``.
    """

    groups: tuple[str, ...]
    unfairness_u: Estimate
    speedup_variance: Estimate
    speedup_min_max_ratio: Estimate
    speedup_cv: Estimate
    worst_group: str | None
    share_slower: Estimate
    reference: str
    contrasts: tuple[Contrast, ...]
    by_task: tuple[TaskDisparity, ...]
    unfairness_u_entropy: Estimate = field(default_factory=_undefined)
    unfairness_u_kl: Estimate = field(default_factory=_undefined)
    unfairness_u_covariance: Estimate = field(default_factory=_undefined)
    unfairness_u_tv: Estimate = field(default_factory=_undefined)
    floor_dominated: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {f.name: _json_value(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Disparity:
        """Build from the JSON form written by :meth:`to_dict`."""
        return _spread_from_dict(cls, data)


@dataclass(frozen=True)
class MetricsSettings:
    """The resolved arguments of :func:`~specaudit.metrics.compute_metrics`."""

    reference_language: str  # reference language when ``reference`` is None
    reference: str | None  # explicit "language/task" reference group, if any
    n_boot: int  # bootstrap resamples per interval
    seed: int  # seed of the one numpy Generator behind all resampling
    min_prompts: int  # groups with fewer prompts get no interval
    confidence_level: float  # level of every per-figure interval
    gamma: int  # draft length (given, or the largest draft in the records)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MetricsSettings:
        """Build from the JSON form written by :meth:`to_dict`."""
        return cls(**{f.name: data[f.name] for f in fields(cls)})


@dataclass(frozen=True)
class MetricsResult:
    """Everything computed from one run's records.

    Attributes
    ----------
    settings : MetricsSettings
        The arguments the figures were computed with.
    n_prompts : int
        Prompts read.
    groups : tuple of GroupMetrics
        One entry per (language, task) group, sorted by task then language.
    disparity : Disparity
        Spread across groups and contrasts against the reference.
    notes : tuple of str
        Caveats met while computing: percentile fallbacks where BCa was
        undefined, groups left out for lack of prompts, missing references.
    prompts : pandas.DataFrame or None
        Per-prompt table behind ``prompts.csv``. Not part of ``metrics.json``
        (nor of equality); ``None`` after :meth:`from_dict` unless given.
    timing : TimingHealth or None
        How far the timings can be trusted, and the fitted cost models;
        ``None`` in results of schema version 1.
    """

    settings: MetricsSettings
    n_prompts: int
    groups: tuple[GroupMetrics, ...]
    disparity: Disparity
    notes: tuple[str, ...] = ()
    timing: TimingHealth | None = None
    prompts: pd.DataFrame | None = field(default=None, compare=False, repr=False)

    def group(self, key: str) -> GroupMetrics:
        """Return the group ``"language/task"``; raise ``KeyError`` if absent."""
        for g in self.groups:
            if g.group == key:
                return g
        raise KeyError(key)

    def group_difference(self, other: MetricsResult) -> tuple[list[str], list[str]]:
        """Return the groups only this result has, and those only ``other`` has.

        Two results over the same groups give two empty lists; comparisons and
        regression checks refuse anything else.
        """
        mine = [g.group for g in self.groups]
        theirs = [g.group for g in other.groups]
        return [k for k in mine if k not in theirs], [k for k in theirs if k not in mine]

    def to_dict(self) -> dict[str, Any]:
        """Return the ``metrics.json`` content (NaN-free, with ``schema_version``)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "settings": self.settings.to_dict(),
            "n_prompts": self.n_prompts,
            "groups": [g.to_dict() for g in self.groups],
            "disparity": self.disparity.to_dict(),
            "timing": None if self.timing is None else self.timing.to_dict(),
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(
        cls, data: dict[str, Any], *, prompts: pd.DataFrame | None = None
    ) -> MetricsResult:
        """Rebuild a result from :meth:`to_dict` output.

        Raises
        ------
        ValueError
            If ``schema_version`` is not one this version reads.
        """
        version = data.get("schema_version")
        if version not in READABLE_SCHEMA_VERSIONS:
            expected = " or ".join(map(str, READABLE_SCHEMA_VERSIONS))
            raise ValueError(
                f"metrics schema_version {version!r} is not supported (expected {expected})"
            )
        timing = data.get("timing")
        return cls(
            settings=MetricsSettings.from_dict(data["settings"]),
            n_prompts=int(data["n_prompts"]),
            groups=tuple(GroupMetrics.from_dict(g) for g in data["groups"]),
            disparity=Disparity.from_dict(data["disparity"]),
            notes=tuple(data.get("notes", ())),
            prompts=prompts,
            timing=None if timing is None else TimingHealth.from_dict(timing),
        )

    def groups_frame(self) -> pd.DataFrame:
        """Return the ``groups.csv`` table."""
        return pd.DataFrame([g.csv_row() for g in self.groups])

    def write(self, run_dir: str | os.PathLike[str]) -> tuple[Path, ...]:
        """Write ``metrics.json``, ``groups.csv`` and ``prompts.csv`` atomically.

        Parameters
        ----------
        run_dir : path
            Target directory; created if missing.

        Returns
        -------
        tuple of Path
            The files written (``prompts.csv`` only when ``prompts`` is set).
        """
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=False)
        written = [
            write_atomic(run_dir / "metrics.json", lambda fh: fh.write(text + "\n")),
            write_atomic(
                run_dir / "groups.csv", lambda fh: self.groups_frame().to_csv(fh, index=False)
            ),
        ]
        if self.prompts is not None:
            prompts = self.prompts
            written.append(
                write_atomic(run_dir / "prompts.csv", lambda fh: prompts.to_csv(fh, index=False))
            )
        return tuple(written)

    @classmethod
    def read(cls, run_dir: str | os.PathLike[str]) -> MetricsResult:
        """Read a result written by :meth:`write` (``prompts.csv`` if present)."""
        run_dir = Path(run_dir)
        data = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
        prompts_path = run_dir / "prompts.csv"
        prompts = pd.read_csv(prompts_path) if prompts_path.exists() else None
        return cls.from_dict(data, prompts=prompts)


def _json_value(value: Any) -> Any:
    if isinstance(value, Estimate | Contrast | TaskDisparity | GroupQuality):
        return value.to_dict()
    if isinstance(value, tuple | list):
        return [_json_value(v) for v in value]
    if isinstance(value, float):
        return finite_or_none(value)
    return value
