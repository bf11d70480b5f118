"""Per-group figures with bootstrap intervals.

A group is one (language, task) cell. Every figure is a function of sums of
per-prompt columns (plus, for the quartiles, the per-prompt ratios), so one
vectorised statistic gives all of them at once, on the original prompts and on
every resample of them (prompts resampled within the group, all columns of a
prompt kept together).

Definitions (docs/method.md#acceptance to #theorem-1; sums run over the group's prompts and
their steps; gamma is the run's draft length):

- ``acceptance_rate`` alpha-hat = sum n_t / sum (n_t + 1[rejection]).
- ``draft_acceptance_rate`` = sum n_t / sum gamma_t (biased low).
- ``mean_accepted_length`` = sum (n_t + 1) / number of steps; steps with no
  draft count as forwards emitting one token.
- ``position_acceptance[i]`` = steps accepting draft i / steps verifying it.
- ``distributional_alpha_token``: mean alpha(s) over all verified positions;
  ``distributional_alpha_prompt``: mean over prompts of each prompt's mean.
- ``speedup`` = sum of robust plain times / sum of robust speculative times
  (measured times, with both decodes of a timing outlier replaced by the
  cost model's prediction: :mod:`specaudit.metrics.timing`); ``speedup_raw``
  the same with the measured times as they are; ``speedup_modelled`` = sum of modelled
  plain / sum of modelled speculative times, from step counts and the fitted
  costs alone (:mod:`specaudit.metrics.costmodel`); ``speedup_median``,
  ``speedup_q1``, ``speedup_q3`` of the per-prompt robust ratios;
  ``share_slower`` the share of prompts with a ratio below 1.
- ``c`` = mean draft_forward_s / mean target_forward_s (see
  :func:`~specaudit.metrics.speedup.forward_cost_ratio`).
- ``analytic_speedup`` = f_gamma(acceptance_rate) / (1 + gamma c), the
  idealised bound: it prices a verify forward of gamma + 1 tokens like a
  one-token forward and ignores per-step overhead, so it sits above the
  measured and modelled speed-ups;
  ``analytic_speedup_prompt_avg`` = mean over prompts (with at least one
  verified draft) of f_gamma(alpha_p), over (1 + gamma c). They differ: f is
  convex, and the pooled alpha weights prompts by their verified drafts.
- ``break_even_alpha`` solves f_gamma(alpha) = 1 + gamma c;
  ``break_even_margin`` = acceptance_rate - break_even_alpha.
- ``cross_entropy`` D, ``kl``: token-pooled means; ``tv`` = 1 -
  distributional_alpha_token.
- ``tokens_per_char`` = sum len(output_ids) / sum output_chars;
  ``chars_per_s_plain`` / ``chars_per_s_spec`` = sum output_chars over summed
  baseline / speculative time (the same text in greedy mode);
  ``tokens_per_s_plain`` / ``tokens_per_s_spec`` the same with sum
  len(output_ids). Characters per second is what users feel: a language the
  tokenizer splits finely gets fewer characters from the same tokens per
  second.
- ``bound_tv``, ``bound_kl``, ``bound_ce``: Theorem 1 lower bounds
  (:mod:`specaudit.metrics.divergence`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from specaudit.metrics.acceptance import (
    acceptance_rate,
    distributional_alpha,
    draft_acceptance_rate,
    mean_accepted_length,
    position_acceptance,
)
from specaudit.metrics.bootstrap import bootstrap_intervals, interval_notes
from specaudit.metrics.divergence import (
    bound_ce,
    bound_kl,
    bound_tv,
    mean_divergence,
    total_variation,
)
from specaudit.metrics.result import (
    GROUP_METRICS,
    STATUS_INSUFFICIENT,
    STATUS_OK,
    Estimate,
    GroupMetrics,
)
from specaudit.metrics.speedup import (
    analytic_speedup,
    break_even_alpha,
    chars_per_second,
    expected_tokens_per_step,
    forward_cost_ratio,
    measured_speedup,
    share_slower,
    speedup_quantiles,
    tokens_per_char,
    tokens_per_second,
)

__all__ = ["figure_estimates", "group_metrics", "group_statistic", "prompt_metrics"]

_SUMMED = (
    "one",
    "n_steps",
    "drafted",
    "accepted",
    "rejections",
    "verified",
    "emitted",
    "alpha_sum",
    "cross_entropy_sum",
    "kl_sum",
    "has_verified",
    "alpha_prompt",
    "f_prompt",
    "baseline_time_s",
    "spec_time_s",
    "plain_measured_s",
    "spec_measured_s",
    "plain_model_s",
    "spec_model_s",
    "draft_forward",
    "has_draft_forward",
    "target_forward_s",
    "n_output_tokens",
    "output_chars",
)

#: Resamples per vectorised call are capped so that one gather stays ~32 MB.
_GATHER_ELEMENTS = 4_000_000


def _columns(frame: pd.DataFrame, gamma: int) -> tuple[np.ndarray, dict[str, int]]:
    """Per-prompt matrix of summable columns, and the column index."""
    verified = frame["verified"].to_numpy(float)
    has_verified = verified > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        prompt_alpha = frame["alpha_sum"].to_numpy(float) / verified
    prompt_acceptance = acceptance_rate(frame["accepted"], frame["rejections"])
    draft_forward = frame["draft_forward_s"].to_numpy(float)
    has_draft = (frame["n_draft_forwards"].to_numpy(float) > 0) & np.isfinite(draft_forward)
    cols = {
        "one": np.ones(len(frame)),
        "has_verified": has_verified.astype(float),
        # Prompt-level means enter as weighted sums so resamples can re-average them.
        "alpha_prompt": np.where(has_verified, prompt_alpha, 0.0),
        "f_prompt": np.where(has_verified, expected_tokens_per_step(prompt_acceptance, gamma), 0.0),
        "draft_forward": np.where(has_draft, draft_forward, 0.0),
        "has_draft_forward": has_draft.astype(float),
    }
    names = list(_SUMMED)
    for i in range(1, gamma + 1):
        names += [f"pos_accepted_{i}", f"pos_verified_{i}"]
    matrix = np.column_stack(
        [cols[name] if name in cols else frame[name].to_numpy(float) for name in names]
    )
    return matrix, {name: j for j, name in enumerate(names)}


def _figures(s: dict[str, np.ndarray], ratios: np.ndarray, gamma: int) -> list[np.ndarray]:
    """All group figures from column sums ``s`` and per-prompt ``ratios`` (..., n)."""
    alpha = acceptance_rate(s["accepted"], s["rejections"])
    c = forward_cost_ratio(
        s["draft_forward"], s["has_draft_forward"], s["target_forward_s"], s["one"]
    )
    alpha_token = distributional_alpha(s["alpha_sum"], s["verified"])
    ce = mean_divergence(s["cross_entropy_sum"], s["verified"])
    kl = mean_divergence(s["kl_sum"], s["verified"])
    tv = total_variation(alpha_token)
    q1, median, q3 = speedup_quantiles(ratios, [0.25, 0.5, 0.75], axis=-1)
    be_alpha = break_even_alpha(gamma, c)
    cost = 1.0 + gamma * c
    figures = {
        "acceptance_rate": alpha,
        "draft_acceptance_rate": draft_acceptance_rate(s["accepted"], s["drafted"]),
        "mean_accepted_length": mean_accepted_length(s["emitted"], s["n_steps"]),
        "distributional_alpha_token": alpha_token,
        "distributional_alpha_prompt": distributional_alpha(s["alpha_prompt"], s["has_verified"]),
        "speedup": measured_speedup(s["baseline_time_s"], s["spec_time_s"]),
        "speedup_raw": measured_speedup(s["plain_measured_s"], s["spec_measured_s"]),
        "speedup_modelled": measured_speedup(s["plain_model_s"], s["spec_model_s"]),
        "speedup_median": median,
        "speedup_q1": q1,
        "speedup_q3": q3,
        "share_slower": share_slower(ratios, axis=-1),
        "c": c,
        "analytic_speedup": analytic_speedup(alpha, gamma, c),
        "analytic_speedup_prompt_avg": distributional_alpha(s["f_prompt"], s["has_verified"])
        / cost,
        "break_even_alpha": be_alpha,
        "break_even_margin": alpha - be_alpha,
        "cross_entropy": ce,
        "kl": kl,
        "tv": tv,
        "tokens_per_char": tokens_per_char(s["n_output_tokens"], s["output_chars"]),
        "chars_per_s_plain": chars_per_second(s["output_chars"], s["baseline_time_s"]),
        "chars_per_s_spec": chars_per_second(s["output_chars"], s["spec_time_s"]),
        "tokens_per_s_plain": tokens_per_second(s["n_output_tokens"], s["baseline_time_s"]),
        "tokens_per_s_spec": tokens_per_second(s["n_output_tokens"], s["spec_time_s"]),
        "bound_tv": bound_tv(tv, gamma, c),
        "bound_kl": bound_kl(kl, gamma, c),
        "bound_ce": bound_ce(ce, gamma, c),
    }
    out = [np.asarray(figures[name], dtype=float) for name in GROUP_METRICS]
    for i in range(1, gamma + 1):
        out.append(position_acceptance(s[f"pos_accepted_{i}"], s[f"pos_verified_{i}"]))
    return out


def group_statistic(frame: pd.DataFrame, gamma: int) -> Callable[..., np.ndarray]:
    """Build the vectorised statistic of one group's prompts, for ``scipy.stats.bootstrap``.

    Parameters
    ----------
    frame : DataFrame
        The group's rows of :func:`~specaudit.metrics._load.prompt_frame`.
    gamma : int
        Draft length.

    Returns
    -------
    callable
        ``statistic(rows, axis=-1)``: ``rows`` holds prompt row numbers with
        shape (..., n); returns shape (len(GROUP_METRICS) + gamma, ...), the
        figures in :data:`GROUP_METRICS` order, then position_acceptance.
    """
    matrix, index = _columns(frame, gamma)
    ratios = frame["speedup"].to_numpy(float)

    def statistic(rows: np.ndarray, axis: int = -1) -> np.ndarray:
        rows = np.moveaxis(np.asarray(rows), axis, -1)
        sums = matrix[rows].sum(axis=-2)
        s = {name: sums[..., j] for name, j in index.items()}
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.stack(_figures(s, ratios[rows], gamma))

    return statistic


def figure_estimates(
    statistic: Callable[..., np.ndarray],
    n: int,
    *,
    names: list[str],
    where: str,
    sufficient: bool,
    n_columns: int,
    n_boot: int,
    rng: np.random.Generator,
    confidence_level: float,
) -> tuple[list[Estimate], list[str]]:
    """Estimates of a group statistic's figures, with intervals when ``sufficient``.

    Prompts (rows ``0..n-1``) are resampled within the group by
    :func:`~specaudit.metrics.bootstrap.bootstrap_intervals` (expanded
    percentile intervals). Without ``sufficient`` prompts the figures get
    point estimates only, status ``"insufficient data"``, and no random
    numbers are drawn.

    Parameters
    ----------
    statistic : callable
        ``statistic(rows, axis=-1)`` returning one figure per entry of ``names``.
    n : int
        Prompts in the group.
    names, where : list of str, str
        Figure names and the group label, for the interval notes.
    sufficient : bool
        Whether the group has enough prompts for intervals.
    n_columns : int
        Per-prompt columns the statistic gathers (bounds the batch size).
    n_boot, rng, confidence_level
        As in :func:`~specaudit.metrics.bootstrap.bootstrap_intervals`.

    Returns
    -------
    list of Estimate
        In ``names`` order.
    list of str
        Notes on interval caveats.
    """
    if not sufficient:
        values = statistic(np.arange(n))
        return [Estimate.of(v, sufficient=False) for v in values], []
    iv = bootstrap_intervals(
        (np.arange(n),),
        statistic,
        n_boot=n_boot,
        rng=rng,
        confidence_level=confidence_level,
        n_units=n,
        batch=max(1, _GATHER_ELEMENTS // (n * n_columns)),
    )
    estimates = [
        Estimate.of(e, lo, hi) for e, lo, hi in zip(iv.estimate, iv.low, iv.high, strict=True)
    ]
    return estimates, interval_notes(iv, names, where)


def group_metrics(
    frame: pd.DataFrame,
    *,
    gamma: int,
    n_boot: int,
    rng: np.random.Generator,
    confidence_level: float,
    min_prompts: int,
) -> tuple[GroupMetrics, list[str]]:
    """All figures of one group with intervals (prompts resampled within the group).

    Intervals are expanded percentile intervals (see
    :mod:`specaudit.metrics.bootstrap`). Groups with fewer than
    ``min_prompts`` prompts get point estimates only, with status
    ``"insufficient data"``; they draw no random numbers.

    Returns
    -------
    GroupMetrics
    list of str
        Notes on interval caveats (figures undefined in some resamples).
    """
    language, task = str(frame["language"].iloc[0]), str(frame["task"].iloc[0])
    n = len(frame)
    names = [*GROUP_METRICS] + [f"position_acceptance_{i}" for i in range(1, gamma + 1)]
    sufficient = n >= min_prompts
    estimates, notes = figure_estimates(
        group_statistic(frame, gamma),
        n,
        names=names,
        where=f"{language}/{task}",
        sufficient=sufficient,
        n_columns=len(_SUMMED) + 2 * gamma,
        n_boot=n_boot,
        rng=rng,
        confidence_level=confidence_level,
    )
    by_name = dict(zip(names, estimates, strict=True))
    metrics = GroupMetrics(
        language=language,
        task=task,
        n_prompts=n,
        n_steps=int(frame["n_steps"].sum()),
        status=STATUS_OK if sufficient else STATUS_INSUFFICIENT,
        position_acceptance=tuple(by_name[f"position_acceptance_{i}"] for i in range(1, gamma + 1)),
        **{name: by_name[name] for name in GROUP_METRICS},
    )
    return metrics, notes


def prompt_metrics(frame: pd.DataFrame, *, quality: pd.DataFrame | None = None) -> pd.DataFrame:
    """Build the ``prompts.csv`` table: each prompt's own figures.

    Identity columns come first (``lossless`` included: whether speculative
    output equalled plain decoding, empty in sampling mode), then the
    figures, then the columns of ``quality`` (the output-quality measures of
    :func:`~specaudit.metrics.quality.prompt_quality`), then the texts
    ``prompt``, ``output_text`` and ``reference`` last, for reports.

    Parameters
    ----------
    frame : DataFrame
        :func:`~specaudit.metrics._load.prompt_frame` output.
    quality : DataFrame, optional
        Per-prompt quality columns with the same index as ``frame``.
    """
    out = frame[
        ["id", "language", "task", "group", "item_id", "split", "lossless", "n_steps"]
    ].copy()
    out["n_output_tokens"] = frame["n_output_tokens"]
    out["output_chars"] = frame["output_chars"]
    # Measured times as recorded; the robust ones where a timing was an outlier.
    for name in ("baseline_time_s", "spec_time_s", "plain_measured_s", "spec_measured_s"):
        out[name] = frame[name]
    out["plain_model_s"] = frame["plain_model_s"]
    out["spec_model_s"] = frame["spec_model_s"]
    out["timing_flagged"] = frame["timing_flagged"]
    out["speedup"] = frame["speedup"]
    out["speedup_raw"] = frame["speedup_raw"]
    out["acceptance_rate"] = acceptance_rate(frame["accepted"], frame["rejections"])
    out["draft_acceptance_rate"] = draft_acceptance_rate(frame["accepted"], frame["drafted"])
    out["mean_accepted_length"] = mean_accepted_length(frame["emitted"], frame["n_steps"])
    out["distributional_alpha"] = distributional_alpha(frame["alpha_sum"], frame["verified"])
    out["cross_entropy"] = mean_divergence(frame["cross_entropy_sum"], frame["verified"])
    out["kl"] = mean_divergence(frame["kl_sum"], frame["verified"])
    out["tokens_per_char"] = tokens_per_char(frame["n_output_tokens"], frame["output_chars"])
    out["draft_forward_s"] = frame["draft_forward_s"]
    out["target_forward_s"] = frame["target_forward_s"]
    if quality is not None:
        for name in quality.columns:
            out[name] = quality[name]
    out["prompt"] = frame["prompt"]
    out["output_text"] = frame["output_text"]
    if "reference" in frame.columns:
        out["reference"] = frame["reference"]
    return out.reset_index(drop=True)
