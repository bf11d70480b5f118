"""A figure with its confidence interval: the unit every metric is reported in.

:class:`Estimate` (and its contrast form :class:`ContrastEstimate`) is shared by
the per-group figures (:mod:`specaudit.metrics.result`) and the quality
figures (:mod:`specaudit.metrics.quality_result`); it lives here, on its own,
so that neither of those modules has to import the other's internals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

__all__ = [
    "STATUS_INSUFFICIENT",
    "STATUS_OK",
    "ContrastEstimate",
    "Estimate",
    "finite_or_none",
]

STATUS_OK = "ok"
#: Too few prompts (or no observations at all) for an honest interval.
STATUS_INSUFFICIENT = "insufficient data"


def finite_or_none(value: Any) -> float | None:
    """Return ``value`` as a finite float, or ``None`` (JSON ``null``) when it is not one."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its confidence interval.

    Attributes
    ----------
    estimate : float or None
        The point estimate; ``None`` where it is undefined (e.g. no drafts).
    ci_low, ci_high : float or None
        Interval bounds at the run's confidence level; ``None`` when the
        status is not ``"ok"``.
    status : str
        ``"ok"`` or ``"insufficient data"`` (too few prompts, or undefined).
    """

    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    status: str = STATUS_OK

    @classmethod
    def of(
        cls, estimate: Any, ci_low: Any = None, ci_high: Any = None, *, sufficient: bool = True
    ) -> Estimate:
        """Build from raw numbers, applying the status rules.

        An undefined (non-finite) estimate gives ``(None, None, None,
        "insufficient data")``; ``sufficient=False`` or a missing bound keeps
        the estimate but drops the interval, with status ``"insufficient
        data"``.
        """
        value, low, high = finite_or_none(estimate), finite_or_none(ci_low), finite_or_none(ci_high)
        if value is None:
            return cls(None, None, None, STATUS_INSUFFICIENT)
        if not sufficient or low is None or high is None:
            return cls(value, None, None, STATUS_INSUFFICIENT)
        return cls(value, low, high, STATUS_OK)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form; non-finite numbers become ``None``."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = finite_or_none(value) if isinstance(value, float) else value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Estimate:
        """Build from the JSON form written by :meth:`to_dict`."""
        return cls(**{f.name: data.get(f.name) for f in fields(cls)})


@dataclass(frozen=True, kw_only=True)
class ContrastEstimate(Estimate):
    """An :class:`Estimate` of a contrast against the reference, with its test.

    Attributes
    ----------
    p_value : float or None
        Two-sided bootstrap p-value for the null (ratio 1, difference 0),
        from inverting the same bootstrap interval.
    p_adjusted : float or None
        Holm-adjusted p-value over the family of all contrasts of this kind.
    sim_ci_low, sim_ci_high : float or None
        Simultaneous (Bonferroni) interval at ``simultaneous_level``.
    simultaneous_level : float or None
        ``1 - (1 - confidence_level) / m`` for a family of m contrasts.
    """

    p_value: float | None = None
    p_adjusted: float | None = None
    sim_ci_low: float | None = None
    sim_ci_high: float | None = None
    simultaneous_level: float | None = None
