"""The gate policy: which checks a release must pass, read from YAML.

A policy file (``version: 1``) holds ``defaults`` for every check, a list of
``checks`` and an optional ``baseline`` section used with ``--baseline``::

    version: 1
    defaults: {severity: error, mode: unproven, intervals: simultaneous}
    checks:
      - metric: min_speedup_ratio    # group speed-up / reference speed-up >= 0.8
        threshold: 0.8
      - metric: min_speedup          # no group slower than plain decoding
        severity: warning
        languages: [sw, yo]
    baseline: {max_speedup_drop: 0.10}

Validation happens in two steps. :func:`load_policy` checks the file on its
own (unknown fields, unknown metrics, bad values); :func:`resolve_policy`
checks it against a run (groups, languages and tasks that the run does not
have) and returns one concrete :class:`Check` per policy entry. Both raise
:class:`~specaudit.errors.UserInputError` with a one-line message.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from specaudit.errors import UserInputError
from specaudit.metrics.result import MetricsResult

__all__ = [
    "CONTRAST_METRICS",
    "DEFAULT_THRESHOLDS",
    "METRICS",
    "SPEEDUP_METRICS",
    "TIMED_METRICS",
    "BaselineCheck",
    "BaselineSpec",
    "Check",
    "CheckDefaults",
    "CheckSpec",
    "GatePolicy",
    "example_policy_path",
    "load_policy",
    "parse_policy",
    "resolve_baseline",
    "resolve_policy",
]

Severity = Literal["error", "warning"]
Mode = Literal["point", "demonstrated", "unproven"]
Intervals = Literal["simultaneous", "marginal"]

#: Every check a policy may name, with the figure it reads from ``metrics.json``.
METRICS: dict[str, str] = {
    "min_speedup_ratio": "disparity.contrasts[].speedup_ratio >= threshold",
    "max_unfairness_u": "disparity.unfairness_u (or by_task[].unfairness_u) <= threshold",
    "min_speedup": "groups[].speedup >= threshold",
    "min_speedup_modelled": "groups[].speedup_modelled >= threshold",
    "max_acceptance_gap": "-disparity.contrasts[].acceptance_diff <= threshold",
    "min_non_degenerate_share": "groups[].quality.non_degenerate_share >= threshold",
    "max_unfairness_u_kl": "disparity.unfairness_u_kl (or by_task[]...) <= threshold",
    "max_unfairness_u_tv": "disparity.unfairness_u_tv (or by_task[]...) <= threshold",
}
#: Checks on a spread of all groups (or of each task's groups): U on
#: cross-entropy, U on KL (the drafter's part) and U on total variation.
SPREAD_METRICS: tuple[str, ...] = ("max_unfairness_u", "max_unfairness_u_kl", "max_unfairness_u_tv")
#: Checks on contrasts against the reference: the only ones with simultaneous intervals.
CONTRAST_METRICS: tuple[str, ...] = ("min_speedup_ratio", "max_acceptance_gap")
#: Thresholds used when a check gives none (the others must give one).
DEFAULT_THRESHOLDS: dict[str, float] = {
    "min_speedup_ratio": 0.8,  # Aequitas' tau: a group within 0.8x of the reference
    "min_speedup": 1.0,  # no group slower than plain decoding
    "min_speedup_modelled": 1.0,  # no group slower, by the noise-free cost model
}
#: Checks on measured times: inconclusive when the run's timing is unreliable.
TIMED_METRICS: tuple[str, ...] = ("min_speedup_ratio", "min_speedup")
#: Checks on speed-ups, measured or modelled: the ones ``timing_tolerance`` widens.
SPEEDUP_METRICS: tuple[str, ...] = ("min_speedup_ratio", "min_speedup", "min_speedup_modelled")
#: A timing tolerance must lie in [0, this): half a speed-up is no tolerance.
MAX_TIMING_TOLERANCE = 0.5
#: What a threshold must be, as a test and the words for it.
_THRESHOLD_RANGES: dict[str, tuple[Callable[[float], bool], str]] = {
    "min_speedup_ratio": (lambda t: 0.0 < t < math.inf, "a ratio > 0"),
    "max_unfairness_u": (lambda t: 0.0 <= t < math.inf, "a variance >= 0"),
    "max_unfairness_u_kl": (lambda t: 0.0 <= t < math.inf, "a variance >= 0"),
    "max_unfairness_u_tv": (lambda t: 0.0 <= t < math.inf, "a variance >= 0"),
    "min_speedup": (lambda t: 0.0 < t < math.inf, "a speed-up > 0"),
    "min_speedup_modelled": (lambda t: 0.0 < t < math.inf, "a speed-up > 0"),
    "max_acceptance_gap": (lambda t: 0.0 <= t <= 1.0, "an acceptance-rate gap in [0, 1]"),
    "min_non_degenerate_share": (lambda t: 0.0 <= t <= 1.0, "a share in [0, 1]"),
}


_POINT_TOLERANCE = (
    "mode point judges the estimate alone, so a timing_tolerance has nothing to widen: "
    "use mode demonstrated or unproven, or remove it"
)


def _suggest(word: str, allowed: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, allowed, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{hint}allowed: {', '.join(allowed)}"


class CheckDefaults(BaseModel):
    """Settings every check inherits unless it sets its own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    severity: Severity = "error"  #: a failing "warning" check never blocks
    mode: Mode = "unproven"  #: a pass must be shown by the whole interval
    intervals: Intervals = "simultaneous"  #: family-wise intervals for contrast checks
    #: Speed-up checks (and the baseline's): a relative run-to-run shift of
    #: the machine's timing that no decision may rest on (0.03 is 3%).
    timing_tolerance: float = Field(0.0, ge=0.0, lt=MAX_TIMING_TOLERANCE)

    @model_validator(mode="after")
    def _tolerance_has_an_interval(self) -> CheckDefaults:
        if self.timing_tolerance and self.mode == "point":
            raise ValueError(_POINT_TOLERANCE)
        return self


class CheckSpec(BaseModel):
    """One check as written in the policy; ``None`` means "from defaults"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str  #: one of METRICS
    name: str | None = None  #: label in reports; defaults to the metric
    threshold: float | None = None  #: None: DEFAULT_THRESHOLDS (where there is one)
    groups: list[str] | Literal["all"] = "all"  #: "all" or a list of "language/task"
    languages: list[str] | None = None  #: keep only these languages' groups
    tasks: list[str] | None = None  #: keep only these tasks' groups
    severity: Severity | None = None  #: error or warning
    mode: Mode | None = None  #: point, demonstrated or unproven
    intervals: Intervals | None = None  #: simultaneous or marginal
    #: speed-up checks only; None: from defaults
    timing_tolerance: float | None = Field(None, ge=0.0, lt=MAX_TIMING_TOLERANCE)

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        if value not in METRICS:
            raise ValueError(f"unknown metric {value!r} ({_suggest(value, list(METRICS))})")
        return value

    @field_validator("groups", mode="before")
    @classmethod
    def _group_list(cls, value: Any) -> Any:
        if isinstance(value, str) and value != "all":
            value = [value]  # a single group written without a list
        if isinstance(value, list):
            for item in value:
                if not isinstance(item, str) or item.count("/") != 1:
                    raise ValueError(
                        f"group {item!r} must be written 'language/task' "
                        "(or use languages: / tasks: to select groups)"
                    )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> CheckSpec:
        allowed, what = _THRESHOLD_RANGES[self.metric]
        if self.threshold is None and self.metric not in DEFAULT_THRESHOLDS:
            raise ValueError(f"{self.metric} needs a threshold ({what})")
        if self.threshold is not None and not allowed(self.threshold):
            raise ValueError(f"threshold {self.threshold:g} is not {what}")
        if self.metric not in CONTRAST_METRICS and self.intervals == "simultaneous":
            raise ValueError(
                f"intervals: simultaneous exists only for {', '.join(CONTRAST_METRICS)}; "
                f"{self.metric} uses each figure's own (marginal) interval"
            )
        if self.timing_tolerance is not None and self.metric not in SPEEDUP_METRICS:
            raise ValueError(
                f"timing_tolerance applies to speed-up checks ({', '.join(SPEEDUP_METRICS)}); "
                f"{self.metric} is not a speed-up: remove it"
            )
        if self.timing_tolerance and self.mode == "point":
            raise ValueError(_POINT_TOLERANCE)
        if self.metric in SPREAD_METRICS and (self.groups != "all" or self.languages is not None):
            raise ValueError(
                f"{self.metric} is a figure of all groups together: select tasks: "
                "to check within tasks, not groups: or languages:"
            )
        return self


class BaselineSpec(BaseModel):
    """Regression checks against a previous run, added by ``--baseline``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "baseline_speedup_drop"  #: label in reports
    max_speedup_drop: float = Field(0.10, gt=0.0, lt=1.0)  #: largest allowed fractional drop
    severity: Severity | None = None  #: None: from defaults
    mode: Mode | None = None  #: None: from defaults
    intervals: Intervals | None = None  #: None: from defaults (simultaneous over groups)
    #: None: from defaults
    timing_tolerance: float | None = Field(None, ge=0.0, lt=MAX_TIMING_TOLERANCE)


class GatePolicy(BaseModel):
    """A whole policy file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1  #: layout version of the policy file
    defaults: CheckDefaults = CheckDefaults()  #: inherited by every check
    checks: list[CheckSpec] = Field(min_length=1)  #: at least one check
    baseline: BaselineSpec = BaselineSpec()  #: used only when a baseline run is given

    @model_validator(mode="after")
    def _unique_names(self) -> GatePolicy:
        seen: set[str] = set()
        for spec in self.checks:
            name = spec.name or spec.metric
            if name in seen:
                raise ValueError(f"two checks are named {name!r}; give each a distinct name:")
            seen.add(name)
        return self


_MODELS: dict[str, type[BaseModel]] = {
    "defaults": CheckDefaults,
    "checks": CheckSpec,
    "baseline": BaselineSpec,
}


def _one_line(err: ValidationError, data: Any) -> str:
    """Describe the first validation problem where a YAML author would look for it."""
    # A typo shows up as an unknown field *and* a missing one: name the typo.
    errors = sorted(err.errors(), key=lambda x: x["type"] != "extra_forbidden")
    e = errors[0]
    loc = list(e["loc"])
    where = "policy"
    model: type[BaseModel] = GatePolicy
    if loc and loc[0] in _MODELS:
        model = _MODELS[str(loc[0])]
        where = str(loc.pop(0))
        if where == "checks" and loc and isinstance(loc[0], int):
            index = loc.pop(0)
            where = f"check {index + 1}"
            checks = data.get("checks") if isinstance(data, dict) else None
            raw = checks[index] if isinstance(checks, list) and index < len(checks) else None
            if isinstance(raw, dict) and isinstance(raw.get("metric"), str):
                where += f" ({raw.get('name') or raw['metric']})"
    # Union members and list indices add noise to the location.
    field = next((str(p) for p in loc if isinstance(p, str) and p in model.model_fields), None)
    msg = e["msg"].removeprefix("Value error, ")
    if e["type"] == "extra_forbidden":
        field = None
        msg = f"unknown field {str(loc[-1])!r} ({_suggest(str(loc[-1]), list(model.model_fields))})"
    elif e["type"] == "missing":
        msg = "missing required field"
    prefix = f"{where}: {field}" if field else where
    more = len(errors) - 1
    return f"{prefix}: {msg}" + (f" (and {more} more)" if more else "")


def parse_policy(data: Any, *, source: str = "policy") -> GatePolicy:
    """Validate an already-parsed policy mapping.

    Raises
    ------
    UserInputError
        With the first problem in one line, e.g.
        ``invalid policy gate.yaml: check 2 (min_speedup): unknown field 'treshold'
        (did you mean 'threshold'? allowed: ...)``.
    """
    if not isinstance(data, dict):
        raise UserInputError(f"invalid policy {source}: expected a mapping with checks:")
    try:
        return GatePolicy.model_validate(data)
    except ValidationError as err:
        raise UserInputError(f"invalid policy {source}: {_one_line(err, data)}") from None


def load_policy(path: str | os.PathLike[str]) -> GatePolicy:
    """Read and validate a YAML policy file.

    Parameters
    ----------
    path : path
        The policy file.

    Returns
    -------
    GatePolicy

    Raises
    ------
    UserInputError
        For an unreadable file, bad YAML or an invalid policy.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise UserInputError(f"cannot read policy {path}: {err.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise UserInputError(f"policy {path} is not valid YAML: {err}".splitlines()[0]) from None
    return parse_policy(data, source=str(path))


def example_policy_path() -> Path:
    """Return the path of the example policy shipped in ``specaudit/gate/``."""
    return Path(str(resources.files("specaudit.gate").joinpath("example_policy.yaml")))


@dataclass(frozen=True)
class Check:
    """One policy check resolved against a run: every setting concrete.

    Attributes
    ----------
    name, metric : str
        Label and the metric (a key of :data:`METRICS`).
    threshold : float
        Pass when the figure is ``>=`` it (``min_*``) or ``<=`` it (``max_*``).
    severity, mode, intervals : str
        As in :class:`CheckDefaults`; ``intervals`` is ``"marginal"`` for
        non-contrast checks.
    groups : tuple of str
        Groups ``"language/task"`` to check (empty for the spread checks, ``max_unfairness_u*``).
    tasks : tuple of str or None
        Spread checks only: the tasks whose within-task U is checked;
        ``None`` checks U across all groups.
    timing_tolerance : float
        Speed-up checks: the relative widening of each interval before it is
        judged (0 for every other check).
    """

    name: str
    metric: str
    threshold: float
    severity: Severity
    mode: Mode
    intervals: Intervals
    groups: tuple[str, ...] = ()
    tasks: tuple[str, ...] | None = None
    timing_tolerance: float = 0.0


@dataclass(frozen=True)
class BaselineCheck:
    """The baseline section resolved: every setting concrete."""

    name: str
    max_speedup_drop: float
    severity: Severity
    mode: Mode
    intervals: Intervals
    timing_tolerance: float = 0.0


def _unknown(kind: str, values: list[str], known: list[str], where: str) -> UserInputError:
    missing = [v for v in values if v not in known]
    return UserInputError(
        f"{where}: {kind} {', '.join(repr(v) for v in missing)} not in the run "
        f"({kind}s in the run: {', '.join(known)})"
    )


def _references(result: MetricsResult) -> list[str]:
    """List the run's reference groups: those contrasted with, and configured ones present."""
    keys = [g.group for g in result.groups]
    settings = result.settings
    configured = (
        [settings.reference]
        if settings.reference is not None
        else [f"{settings.reference_language}/{g.task}" for g in result.groups]
    )
    found = {c.reference for c in result.disparity.contrasts} | set(configured)
    return [k for k in keys if k in found]


def _select(spec: CheckSpec, result: MetricsResult, where: str) -> tuple[str, ...]:
    keys = [g.group for g in result.groups]
    languages = list(dict.fromkeys(g.language for g in result.groups))
    tasks = list(dict.fromkeys(g.task for g in result.groups))
    if spec.languages is not None and not set(spec.languages) <= set(languages):
        raise _unknown("language", spec.languages, languages, where)
    if spec.tasks is not None and not set(spec.tasks) <= set(tasks):
        raise _unknown("task", spec.tasks, tasks, where)
    if spec.groups == "all":
        chosen = list(keys)
        if spec.metric in CONTRAST_METRICS:
            # A reference has no contrast with itself; other groups without a
            # reference stay in and come out inconclusive.
            references = _references(result)
            chosen = [k for k in chosen if k not in references]
    else:
        if not set(spec.groups) <= set(keys):
            raise _unknown("group", spec.groups, keys, where)
        chosen = list(dict.fromkeys(spec.groups))
        if spec.metric in CONTRAST_METRICS:
            references = _references(result)
            listed = [k for k in chosen if k in references]
            if listed:
                raise UserInputError(
                    f"{where}: {', '.join(listed)} is a reference group, which has no "
                    f"contrast with itself (references: {', '.join(references)})"
                )
    by_key = {g.group: g for g in result.groups}
    chosen = [
        k
        for k in chosen
        if (spec.languages is None or by_key[k].language in spec.languages)
        and (spec.tasks is None or by_key[k].task in spec.tasks)
    ]
    if not chosen:
        raise UserInputError(f"{where}: selects no group of the run")
    return tuple(chosen)


def resolve_policy(policy: GatePolicy, result: MetricsResult) -> tuple[Check, ...]:
    """Check a policy against a run and make every check concrete.

    Parameters
    ----------
    policy : GatePolicy
        A validated policy.
    result : MetricsResult
        The run's metrics.

    Returns
    -------
    tuple of Check
        In policy order.

    Raises
    ------
    UserInputError
        When a check names a group, language or task that is not in the run,
        lists a reference group in a contrast check, or selects no group.
    """
    checks = []
    defaults = policy.defaults
    for index, spec in enumerate(policy.checks, 1):
        name = spec.name or spec.metric
        where = f"policy check {index} ({name})"
        intervals = spec.intervals or defaults.intervals
        if spec.metric not in CONTRAST_METRICS:
            intervals = "marginal"
        threshold = spec.threshold
        if threshold is None:
            threshold = DEFAULT_THRESHOLDS[spec.metric]
        groups: tuple[str, ...] = ()
        tasks: tuple[str, ...] | None = None
        if spec.metric in SPREAD_METRICS:
            if spec.tasks is not None:
                known = [t.task for t in result.disparity.by_task]
                if not set(spec.tasks) <= set(known):
                    raise _unknown("task", spec.tasks, known, where)
                tasks = tuple(dict.fromkeys(spec.tasks))
        else:
            groups = _select(spec, result, where)
        checks.append(
            Check(
                name=name,
                metric=spec.metric,
                threshold=float(threshold),
                severity=spec.severity or defaults.severity,
                mode=spec.mode or defaults.mode,
                intervals=intervals,
                groups=groups,
                tasks=tasks,
                timing_tolerance=_tolerance(spec.metric, spec.timing_tolerance, defaults),
            )
        )
    return tuple(checks)


def _tolerance(metric: str, own: float | None, defaults: CheckDefaults) -> float:
    """Return a speed-up check's own timing tolerance, else the default; 0 for other checks."""
    if metric not in SPEEDUP_METRICS:
        return 0.0
    return defaults.timing_tolerance if own is None else own


def resolve_baseline(policy: GatePolicy) -> BaselineCheck:
    """Return the baseline section with the defaults filled in."""
    spec, defaults = policy.baseline, policy.defaults
    return BaselineCheck(
        name=spec.name,
        max_speedup_drop=spec.max_speedup_drop,
        severity=spec.severity or defaults.severity,
        mode=spec.mode or defaults.mode,
        intervals=spec.intervals or defaults.intervals,
        timing_tolerance=(
            defaults.timing_tolerance if spec.timing_tolerance is None else spec.timing_tolerance
        ),
    )
