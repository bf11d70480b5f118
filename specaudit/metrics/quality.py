"""Output quality beside acceptance: per-prompt measures and per-group figures.

Per prompt (:func:`prompt_quality`), from ``output_ids``, ``output_text``
and ``reference``: the degeneracy measures and flag of
:mod:`specaudit.metrics.degeneracy`, and, for prompts with a reference
(whatever their task), chrF and chrF++ (:mod:`specaudit.metrics.chrf`).

Per group (:func:`group_quality`), with prompts resampled within the group
like every other group figure:

- ``degenerate_share`` = degenerate prompts / prompts;
  ``non_degenerate_share`` = 1 - degenerate_share;
- ``acceptance_rate_non_degenerate`` = sum n_t / sum (n_t + 1[rejection])
  over the steps of non-degenerate prompts only, and
  ``speedup_non_degenerate`` = sum T_base / sum T_spec over those prompts.
  A resample draws a random number of non-degenerate prompts, so their
  intervals include that uncertainty. Undefined when no prompt is
  non-degenerate;
- ``distinct_1``/``2``/``3``, ``loop_length``, ``compression_ratio``: means
  over prompts where the measure is defined;
- ``chrf``, ``chrf_plus_plus``: means of the sentence scores over prompts with
  a reference (a macro average; sacrebleu's corpus chrF pools n-gram counts
  instead and differs).

Shares of exactly 0 or 1 get a zero-width interval (every resample agrees):
read them with the counts ``n_degenerate`` and ``n_prompts``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from specaudit.metrics._common import safe_ratio
from specaudit.metrics.acceptance import acceptance_rate
from specaudit.metrics.chrf import chrf, chrf_plus_plus
from specaudit.metrics.degeneracy import degeneracy
from specaudit.metrics.group import figure_estimates
from specaudit.metrics.quality_result import QUALITY_METRICS, GroupQuality
from specaudit.metrics.speedup import measured_speedup

__all__ = ["PROMPT_QUALITY_COLUMNS", "group_quality", "prompt_quality", "quality_statistic"]

#: Per-prompt quality columns added to the prompt table (and ``prompts.csv``).
PROMPT_QUALITY_COLUMNS: tuple[str, ...] = (
    "distinct_1",
    "distinct_2",
    "distinct_3",
    "loop_length",
    "loop_share",
    "compression_ratio",
    "degenerate",
    "chrf",
    "chrf_plus_plus",
)

#: Per-prompt measures averaged over the prompts where they are defined.
_AVERAGED = QUALITY_METRICS[QUALITY_METRICS.index("distinct_1") :]
#: Columns of the statistic's matrix: six sums, then a value and a count per average.
_N_COLUMNS = 6 + 2 * len(_AVERAGED)


def _has_reference(reference: object) -> bool:
    return isinstance(reference, str) and bool(reference.strip())


def prompt_quality(frame: pd.DataFrame) -> pd.DataFrame:
    """Each prompt's degeneracy measures, flag and (with a reference) chrF scores.

    Parameters
    ----------
    frame : DataFrame
        :func:`~specaudit.metrics._load.prompt_frame` output, with columns
        ``output_ids``, ``output_text`` and ``reference`` (``None`` where the
        prompt has none).

    Returns
    -------
    DataFrame
        Same index as ``frame``, columns :data:`PROMPT_QUALITY_COLUMNS`;
        ``chrf`` and ``chrf_plus_plus`` are NaN without a reference.
    """
    rows = []
    for ids, text, reference in zip(
        frame["output_ids"], frame["output_text"], frame["reference"], strict=True
    ):
        text = text if isinstance(text, str) else ""
        d = degeneracy(list(ids), text)
        scored = _has_reference(reference)
        rows.append(
            (
                d.distinct_1,
                d.distinct_2,
                d.distinct_3,
                d.loop_length,
                d.loop_share,
                d.compression_ratio,
                d.degenerate,
                chrf(text, reference) if scored else np.nan,
                chrf_plus_plus(text, reference) if scored else np.nan,
            )
        )
    out = pd.DataFrame.from_records(rows, columns=list(PROMPT_QUALITY_COLUMNS), index=frame.index)
    out["degenerate"] = out["degenerate"].astype(bool)
    out["loop_length"] = out["loop_length"].astype(np.int64)
    return out


def _columns(frame: pd.DataFrame) -> tuple[np.ndarray, dict[str, int]]:
    """Per-prompt matrix of summable columns, and the column index."""
    degenerate = frame["degenerate"].to_numpy(bool).astype(float)
    kept = 1.0 - degenerate
    cols: dict[str, np.ndarray] = {
        "one": np.ones(len(frame)),
        "degenerate": degenerate,
        # Non-degenerate prompts' sums: zero rows for degenerate prompts.
        "kept_accepted": kept * frame["accepted"].to_numpy(float),
        "kept_rejections": kept * frame["rejections"].to_numpy(float),
        "kept_baseline_time_s": kept * frame["baseline_time_s"].to_numpy(float),
        "kept_spec_time_s": kept * frame["spec_time_s"].to_numpy(float),
    }
    for name in _AVERAGED:
        values = frame[name].to_numpy(float)
        defined = np.isfinite(values)
        cols[name] = np.where(defined, values, 0.0)
        cols[f"has_{name}"] = defined.astype(float)
    names = list(cols)
    return np.column_stack([cols[n] for n in names]), {n: j for j, n in enumerate(names)}


def _figures(s: dict[str, np.ndarray]) -> list[np.ndarray]:
    """All quality figures from column sums ``s``, in :data:`QUALITY_METRICS` order."""
    share = safe_ratio(s["degenerate"], s["one"])
    figures = {
        "degenerate_share": share,
        "non_degenerate_share": 1.0 - share,
        "acceptance_rate_non_degenerate": acceptance_rate(s["kept_accepted"], s["kept_rejections"]),
        "speedup_non_degenerate": measured_speedup(
            s["kept_baseline_time_s"], s["kept_spec_time_s"]
        ),
    }
    for name in _AVERAGED:
        figures[name] = safe_ratio(s[name], s[f"has_{name}"])
    return [np.asarray(figures[name], dtype=float) for name in QUALITY_METRICS]


def quality_statistic(frame: pd.DataFrame) -> Callable[..., np.ndarray]:
    """Build the vectorised quality statistic of one group, for ``scipy.stats.bootstrap``.

    Parameters
    ----------
    frame : DataFrame
        The group's rows of the prompt table with the
        :func:`prompt_quality` columns.

    Returns
    -------
    callable
        ``statistic(rows, axis=-1)`` with ``rows`` of shape (..., n); returns
        shape (len(QUALITY_METRICS), ...).
    """
    matrix, index = _columns(frame)

    def statistic(rows: np.ndarray, axis: int = -1) -> np.ndarray:
        rows = np.moveaxis(np.asarray(rows), axis, -1)
        sums = matrix[rows].sum(axis=-2)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.stack(_figures({name: sums[..., j] for name, j in index.items()}))

    return statistic


def group_quality(
    frame: pd.DataFrame,
    *,
    n_boot: int,
    rng: np.random.Generator,
    confidence_level: float,
    min_prompts: int,
) -> tuple[GroupQuality, list[str]]:
    """Quality figures of one group with intervals (prompts resampled within the group).

    Parameters
    ----------
    frame : DataFrame
        The group's rows of the prompt table with the :func:`prompt_quality`
        columns and the step sums ``accepted``, ``rejections``,
        ``baseline_time_s``, ``spec_time_s``.
    n_boot, rng, confidence_level, min_prompts
        As in :func:`~specaudit.metrics.group.group_metrics`; groups with
        fewer than ``min_prompts`` prompts get point estimates only and draw
        no random numbers.

    Returns
    -------
    GroupQuality
    list of str
        Notes on interval caveats.
    """
    statistic = quality_statistic(frame)
    estimates, notes = figure_estimates(
        statistic,
        len(frame),
        names=list(QUALITY_METRICS),
        where=f"{frame['language'].iloc[0]}/{frame['task'].iloc[0]} quality",
        sufficient=len(frame) >= min_prompts,
        n_columns=_N_COLUMNS,
        n_boot=n_boot,
        rng=rng,
        confidence_level=confidence_level,
    )
    by_name = dict(zip(QUALITY_METRICS, estimates, strict=True))
    quality = GroupQuality(
        n_degenerate=int(frame["degenerate"].sum()),
        n_with_reference=int(np.isfinite(frame["chrf"].to_numpy(float)).sum()),
        **by_name,
    )
    return quality, notes
