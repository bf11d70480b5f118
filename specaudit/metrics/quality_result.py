"""The typed per-group output-quality figures: degeneracy and translation quality.

A :class:`GroupQuality` hangs off each
:class:`~specaudit.metrics.result.GroupMetrics` as ``quality``; it is built by
:func:`specaudit.metrics.quality.group_quality`, where every figure is defined.
In ``metrics.json`` it is the group's ``quality`` object; in ``groups.csv``
each figure is three columns, like the other figures.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from specaudit.metrics.estimate import Estimate

__all__ = ["QUALITY_METRICS", "GroupQuality"]

#: Per-group quality figures, in JSON and CSV order.
QUALITY_METRICS: tuple[str, ...] = (
    "degenerate_share",
    "non_degenerate_share",
    "acceptance_rate_non_degenerate",
    "speedup_non_degenerate",
    "distinct_1",
    "distinct_2",
    "distinct_3",
    "loop_length",
    "compression_ratio",
    "chrf",
    "chrf_plus_plus",
)


@dataclass(frozen=True)
class GroupQuality:
    """Output quality of one (language, task) group.

    Attributes
    ----------
    n_degenerate : int
        Prompts whose output is flagged ``degenerate``.
    n_with_reference : int
        Prompts with a reference, i.e. with chrF and chrF++.
    degenerate_share, non_degenerate_share : Estimate
        Share of prompts flagged degenerate, and the rest. 0 (1) means no
        degenerate output.
    acceptance_rate_non_degenerate, speedup_non_degenerate : Estimate
        ``acceptance_rate`` and ``speedup`` over the non-degenerate prompts
        only, to read beside the figures over all prompts.
    distinct_1, distinct_2, distinct_3, loop_length, compression_ratio : Estimate
        Means over prompts of the per-prompt measures
        (:mod:`specaudit.metrics.degeneracy`).
    chrf, chrf_plus_plus : Estimate
        Means over prompts with a reference of the sentence-level scores
        (0-100, :mod:`specaudit.metrics.chrf`); undefined without references.
    """

    n_degenerate: int
    n_with_reference: int
    degenerate_share: Estimate
    non_degenerate_share: Estimate
    acceptance_rate_non_degenerate: Estimate
    speedup_non_degenerate: Estimate
    distinct_1: Estimate
    distinct_2: Estimate
    distinct_3: Estimate
    loop_length: Estimate
    compression_ratio: Estimate
    chrf: Estimate
    chrf_plus_plus: Estimate

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.to_dict() if isinstance(value, Estimate) else value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GroupQuality:
        """Build from the JSON form written by :meth:`to_dict`."""
        values = {f.name: data[f.name] for f in fields(cls)}
        for name in QUALITY_METRICS:
            values[name] = Estimate.from_dict(values[name])
        return cls(**values)

    def csv_columns(self) -> dict[str, Any]:
        """Flatten to ``groups.csv`` columns (each figure with its two bounds)."""
        row: dict[str, Any] = {
            "n_degenerate": self.n_degenerate,
            "n_with_reference": self.n_with_reference,
        }
        for name in QUALITY_METRICS:
            est = getattr(self, name)
            row[name] = est.estimate
            row[f"{name}_ci_low"] = est.ci_low
            row[f"{name}_ci_high"] = est.ci_high
        return row
