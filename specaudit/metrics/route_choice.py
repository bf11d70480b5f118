"""Choosing each group's drafter and draft length from predicted speed-ups.

The candidates of a routing unit (a group, or a language with all its tasks)
are "no speculation" (1.0x by definition) and every (drafter, gamma) with a
prediction. Units are chosen independently, which is optimal for every
objective here because each sums or takes the minimum over units:

- ``maximin``: the largest worst speed-up over the unit's groups (ties: the
  larger mean);
- ``mean``: the largest mean speed-up (ties: the larger minimum);
- ``mean-no-loss``: the largest mean among settings that keep every group of
  the unit at or above 1.0x (no speculation always does).

The *best single setting* is the one (drafter, gamma) for all traffic that
the same objective prefers over all groups at once: what a serving engine
with one drafter and one gamma could do. Everything uses point estimates;
the intervals are shown beside them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from specaudit.metrics.disparity import speedup_min_max_ratio, speedup_variance, unfairness_u
from specaudit.metrics.routing import NO_DRAFTER, Route

__all__ = ["OBJECTIVES", "Choice", "Summary", "choose_routes", "summarise"]

OBJECTIVES = ("maximin", "mean", "mean-no-loss")
_NONE = Route(NO_DRAFTER, 0)


def _key(values: Sequence[float], objective: str) -> tuple:
    v = np.asarray(values, dtype=float)
    v = np.where(np.isfinite(v), v, -np.inf)
    low, mean = float(v.min()), float(v.mean())
    if objective == "maximin":
        return (low, mean)
    if objective == "mean":
        return (mean, low)
    return (low >= 1.0, mean, low)


@dataclass(frozen=True)
class Choice:
    """A routing decision.

    Attributes
    ----------
    routes : dict
        Routing unit (group or language) -> chosen :class:`Route`.
    per_group : dict
        Group -> its route under ``routes``.
    single : Route
        The best single (drafter, gamma) for all groups.
    single_feasible : bool
        For ``mean-no-loss``: whether that setting keeps every group >= 1.0x.
    """

    routes: dict[str, Route]
    per_group: dict[str, Route]
    single: Route
    single_feasible: bool


def _value(predicted: Mapping[Route, Mapping[str, float]], route: Route, group: str) -> float:
    return 1.0 if not route.speculative else float(predicted[route].get(group, np.nan))


def choose_routes(
    predicted: Mapping[Route, Mapping[str, float]],
    groups: Sequence[str],
    *,
    objective: str = "maximin",
    by: str = "group",
) -> Choice:
    """Choose every unit's setting and the best single setting.

    Parameters
    ----------
    predicted : mapping
        Speculative :class:`Route` -> group -> predicted speed-up.
    groups : sequence of str
        The ``language/task`` groups to route.
    objective : {"maximin", "mean", "mean-no-loss"}
        See the module docstring.
    by : {"group", "language"}
        Route each group, or each language (all its tasks alike).
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective {objective!r} is not one of {', '.join(OBJECTIVES)}")
    if by not in ("group", "language"):
        raise ValueError(f"by {by!r} is not group or language")
    units: dict[str, list[str]] = {}
    for g in groups:
        units.setdefault(g if by == "group" else g.split("/", 1)[0], []).append(g)
    candidates = [_NONE, *predicted]
    routes, per_group = {}, {}
    for unit, members in units.items():
        best = max(
            candidates,
            key=lambda r: _key([_value(predicted, r, g) for g in members], objective),
        )
        routes[unit] = best
        per_group.update(dict.fromkeys(members, best))
    if predicted:
        single = max(
            predicted, key=lambda r: _key([_value(predicted, r, g) for g in groups], objective)
        )
        feasible = min(_value(predicted, single, g) for g in groups) >= 1.0
    else:
        single, feasible = _NONE, True
    return Choice(routes, per_group, single, feasible)


@dataclass(frozen=True)
class Summary:
    """Spread of one configuration's group speed-ups (every group weighted equally)."""

    worst_group: str
    worst: float
    mean: float
    min_max_ratio: float
    variance: float
    unfairness_u: float | None  #: of the chosen drafters' cross-entropies; None if none drafts


def summarise(speedups: Mapping[str, float], cross_entropy: Mapping[str, float | None]) -> Summary:
    """Summarise group speed-ups and the drafters' cross-entropies (None: no drafter)."""
    names = list(speedups)
    values = np.array([speedups[g] for g in names], dtype=float)
    worst = int(np.nanargmin(values))
    ce = [v for v in (cross_entropy.get(g) for g in names) if v is not None and np.isfinite(v)]
    return Summary(
        worst_group=names[worst],
        worst=float(values[worst]),
        mean=float(np.nanmean(values)),
        min_max_ratio=float(speedup_min_max_ratio(values)),
        variance=float(speedup_variance(values)),
        unfairness_u=float(unfairness_u(ce)) if len(ce) >= 2 else None,
    )
