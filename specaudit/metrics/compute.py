"""From records to a :class:`~specaudit.metrics.result.MetricsResult`.

The one entry point, :func:`compute_metrics`, checks its arguments, tabulates
the records, then computes (always in this order, all resampling drawn from
one ``numpy.random.default_rng(seed)``): each group's figures, the spread
across all groups, the spread within each task, and the contrasts against
the reference, and last each group's output quality (degeneracy, chrF;
:mod:`specaudit.metrics.quality`). Prompts are sorted by (task, language, id) first, so the
numbers depend on the records and the arguments only, not on line order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd

from specaudit.metrics._load import infer_gamma, prompt_frame, step_frame, validate_records
from specaudit.metrics.availability import availability_notes
from specaudit.metrics.contrasts import contrasts
from specaudit.metrics.devices import device_notes
from specaudit.metrics.disparity import spread
from specaudit.metrics.group import group_metrics, prompt_metrics
from specaudit.metrics.quality import group_quality, prompt_quality
from specaudit.metrics.result import Disparity, MetricsResult, MetricsSettings, TaskDisparity
from specaudit.metrics.timing import timing_assessment

__all__ = ["compute_metrics"]


def _check_arguments(
    *,
    reference_language: Any,
    reference: Any,
    n_boot: Any,
    seed: Any,
    min_prompts: Any,
    confidence_level: Any,
    gamma: Any,
) -> None:
    def bad(name: str, value: Any, allowed: str) -> ValueError:
        return ValueError(f"{name}={value!r} is not allowed: {allowed}")

    if not isinstance(reference_language, str) or not reference_language:
        raise bad("reference_language", reference_language, "expected a language code")
    if reference is not None and (not isinstance(reference, str) or "/" not in reference):
        raise bad("reference", reference, 'expected a group "language/task" or None')
    if isinstance(n_boot, bool) or not isinstance(n_boot, Integral) or n_boot < 100:
        raise bad("n_boot", n_boot, "expected an integer >= 100")
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise bad("seed", seed, "expected a non-negative integer")
    if isinstance(min_prompts, bool) or not isinstance(min_prompts, Integral) or min_prompts < 2:
        raise bad("min_prompts", min_prompts, "expected an integer >= 2")
    if (
        isinstance(confidence_level, bool)
        or not isinstance(confidence_level, Real)
        or not 0.0 < float(confidence_level) < 1.0
    ):
        raise bad("confidence_level", confidence_level, "expected a number in (0, 1)")
    if gamma is not None and (
        isinstance(gamma, bool) or not isinstance(gamma, Integral) or gamma < 1
    ):
        raise bad("gamma", gamma, "expected a positive integer or None")


def _reference_pairs(
    groups: dict[str, pd.DataFrame], *, reference_language: str, reference: str | None
) -> tuple[list[tuple[str, str]], list[str]]:
    """(group, reference group) keys to contrast, and notes on tasks without one."""
    keys = list(groups)
    if reference is not None:
        if reference not in groups:
            raise ValueError(
                f"reference={reference!r} is not a group of these records "
                f"(groups: {', '.join(keys)})"
            )
        return [(k, reference) for k in keys if k != reference], []
    languages = sorted({str(g["language"].iloc[0]) for g in groups.values()})
    if reference_language not in languages:
        # An audit of, say, only sw and de is still worth its per-group figures;
        # the contrasts need a reference group, and the note says how to pick one.
        return [], [
            f"reference language {reference_language!r} is not in the records "
            f"(languages: {', '.join(languages)}): no contrasts; choose a reference "
            "with --reference-language or --reference"
        ]
    pairs, notes = [], []
    for task in dict.fromkeys(str(g["task"].iloc[0]) for g in groups.values()):
        ref = f"{reference_language}/{task}"
        if ref not in groups:
            notes.append(f"task {task!r} has no {reference_language!r} group: no contrasts")
            continue
        pairs += [(k, ref) for k, g in groups.items() if g["task"].iloc[0] == task and k != ref]
    return pairs, notes


def _modelled_gap(groups: list) -> float | None:
    """Largest relative gap between a group's robust and modelled speed-up."""
    gaps = [
        abs(g.speedup.estimate / g.speedup_modelled.estimate - 1.0)
        for g in groups
        if g.speedup.estimate is not None and g.speedup_modelled.estimate
    ]
    return max(gaps) if gaps else None


def compute_metrics(
    records: Iterable[Mapping[str, Any]],
    *,
    reference_language: str = "en",
    reference: str | None = None,
    n_boot: int = 2000,
    seed: int = 0,
    min_prompts: int = 10,
    confidence_level: float = 0.95,
    gamma: int | None = None,
) -> MetricsResult:
    """Compute every per-group figure, the disparity and the contrasts, with intervals.

    Parameters
    ----------
    records : iterable of dict
        Parsed ``records.jsonl`` lines (see :func:`~specaudit.metrics.load_records`).
    reference_language : str, default "en"
        Each group is contrasted with this language's group in the same task.
    reference : str, optional
        An explicit reference group ``"language/task"``; every other group
        (of any task) is contrasted with it. Overrides ``reference_language``.
    n_boot : int, default 2000
        Bootstrap resamples per interval (at least 100).
    seed : int, default 0
        Seed of the ``numpy.random.default_rng`` behind all resampling.
    min_prompts : int, default 10
        Groups (and contrasts) with fewer prompts get point estimates only,
        with status ``"insufficient data"``; they do not enter the spread
        figures.
    confidence_level : float, default 0.95
        Level of every interval (simultaneous intervals are wider).
    gamma : int, optional
        Draft length; defaults to the largest ``drafted`` in the records.

    Returns
    -------
    MetricsResult

    Raises
    ------
    ValueError
        On a bad argument (naming it, its value and what is allowed), empty or
        malformed records, an unknown reference, or ``gamma`` below the
        largest draft in the records.
    """
    _check_arguments(
        reference_language=reference_language,
        reference=reference,
        n_boot=n_boot,
        seed=seed,
        min_prompts=min_prompts,
        confidence_level=confidence_level,
        gamma=gamma,
    )
    confidence_level = float(confidence_level)
    records = validate_records(records)
    steps = step_frame(records)
    observed = infer_gamma(steps)
    if gamma is None:
        if observed < 1:
            raise ValueError("gamma=None cannot be inferred: no step drafted any token; pass gamma")
        gamma = observed
    elif gamma < observed:
        raise ValueError(
            f"gamma={gamma!r} is not allowed: the records hold drafts of {observed} tokens"
        )
    gamma = int(gamma)
    # Timing is judged before sorting: the assessment follows records order.
    timing = timing_assessment(records)
    prompts = (
        prompt_frame(records, steps=steps, gamma=gamma, timing=timing)
        .sort_values(["task", "language", "id"], kind="stable")
        .reset_index(drop=True)
    )
    quality = prompt_quality(prompts)
    groups = {key: frame for key, frame in prompts.groupby("group", sort=False)}
    pairs, notes = _reference_pairs(
        groups, reference_language=reference_language, reference=reference
    )
    notes += device_notes(records)
    notes += availability_notes(records)
    rng = np.random.default_rng(seed)
    options = {"n_boot": int(n_boot), "rng": rng, "confidence_level": confidence_level}

    group_results = []
    for frame in groups.values():
        metrics, group_notes = group_metrics(
            frame, gamma=gamma, min_prompts=int(min_prompts), **options
        )
        group_results.append(metrics)
        notes += group_notes
    small = [key for key, frame in groups.items() if len(frame) < min_prompts]
    if small:
        notes.append(
            f"fewer than {min_prompts} prompts, no intervals, left out of the disparity "
            f"figures: {', '.join(small)}"
        )

    enough = {key: frame for key, frame in groups.items() if len(frame) >= min_prompts}
    overall, worst, spread_notes = spread(
        list(enough.values()), where="disparity (all groups)", **options
    )
    notes += spread_notes
    by_task = []
    for task in dict.fromkeys(str(f["task"].iloc[0]) for f in groups.values()):
        members = {k: f for k, f in enough.items() if f["task"].iloc[0] == task}
        figures, task_worst, spread_notes = spread(
            list(members.values()), where=f"disparity ({task})", **options
        )
        notes += spread_notes
        by_task.append(
            TaskDisparity(task=task, groups=tuple(members), worst_group=task_worst, **figures)
        )

    contrast_results, contrast_notes = contrasts(
        [(groups[g], groups[r]) for g, r in pairs], min_prompts=int(min_prompts), **options
    )
    notes += contrast_notes

    # Quality comes last so that its resampling leaves every figure above
    # exactly as it was before quality figures existed.
    with_quality = prompts.join(quality)
    for i, frame in enumerate(groups.values()):
        group_q, quality_notes = group_quality(
            with_quality.loc[frame.index], min_prompts=int(min_prompts), **options
        )
        group_results[i] = dataclasses.replace(group_results[i], quality=group_q)
        notes += quality_notes

    disparity = Disparity(
        groups=tuple(enough),
        worst_group=worst,
        reference=reference if reference is not None else reference_language,
        contrasts=contrast_results,
        by_task=tuple(by_task),
        **overall,
    )
    settings = MetricsSettings(
        reference_language=reference_language,
        reference=reference,
        n_boot=int(n_boot),
        seed=int(seed),
        min_prompts=int(min_prompts),
        confidence_level=confidence_level,
        gamma=gamma,
    )
    health = timing.health(
        records,
        groups=[f"{r['language']}/{r['task']}" for r in records],
        modelled_gap=_modelled_gap(group_results),
    )
    if health.verdict in ("noisy", "unreliable"):
        notes.append(f"timing {health.verdict}: {'; '.join(health.reasons)}")
    return MetricsResult(
        settings=settings,
        timing=health,
        n_prompts=len(prompts),
        groups=tuple(group_results),
        disparity=disparity,
        notes=tuple(notes),
        prompts=prompt_metrics(prompts, quality=quality),
    )
