"""Timing outliers, the robust times behind the headline speed-up, and timing health.

A decode is a *timing outlier* when its measured time is far above what the
cost model (:mod:`specaudit.metrics.costmodel`) predicts for its counts. The
test works on log residuals ``r = log(measured / modelled)`` less the
prompt's group offset: its group's median shrunk towards the run's, by how
much more the groups' medians differ than sampling noise explains (so a
group whose forwards are really slower, say from longer contexts, is not
flagged as a whole, while a group a neighbour slowed together is). The
centre ``mu`` and spread ``sigma`` of the residuals are their median and
normal-consistent MAD. A decode is flagged when

    r - offset - mu > max(z * sigma, log 1.10),
    z = Phi^-1(1 - 0.05 / n_decodes),

that is, at a 5% family-wise false-flag rate over all the run's decodes were
the residuals normal, and never for an excess under 10% (which cannot move a
group's ratio of sums by much). Both halves of the residuals count: a
machine's own slow stretches skew them right, and a spread read from the
fast side alone (as an earlier version did) flagged that tail, and sent 64
and 86 prompts of 440 to re-timing on two quiet runs (up to 100 s). A
noisy neighbour that slows many decodes widens this fence; the audit does
not rely on it there. Interleaved, a co-tenant's burst slows both decodes
of a prompt alike (:mod:`specaudit.audit.attempts`); back to back, the
audit sees the co-tenant directly (other processes' CPU time) and re-times
every prompt it touched. After re-timing the fence is drawn again from the
timings kept (:mod:`specaudit.audit.retime`).

Before any of this, single stalled steps inside a decode are trimmed
(:mod:`specaudit.metrics.step_stalls`): a short burst then costs nothing, and
only a decode slowed throughout is left for the outlier test.

The *robust time* of a decode is its trimmed measured time, unless its prompt
is flagged (either of its two decodes): then it is the modelled time scaled
by its group's offset, i.e. what the same work costs on this machine for this
group when nothing stalls. Both decodes are replaced because they were timed
together (interleaved or back to back), and a slow-down that pushes one over
the fence usually slows the other below it. The headline speed-up is the ratio of summed robust
times: still the time for the work, but a stall can no longer decide it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from specaudit.metrics._common import finite_median, robust_spread
from specaudit.metrics.availability import served_by_backend
from specaudit.metrics.costmodel import CostModel, fit_cost_models, modelled_times, timing_table
from specaudit.metrics.step_stalls import StepTrim, trim_step_stalls

__all__ = [
    "VERDICTS",
    "TimingAssessment",
    "TimingFlags",
    "TimingHealth",
    "flag_outliers",
    "robust_times",
    "timing_assessment",
    "with_robust_times",
]

#: Family-wise false-flag rate of a clean run with normal residuals.
FALSE_FLAG_RATE = 0.05
#: Smallest excess over the model that counts as a stall.
MIN_EXCESS = np.log(1.10)
#: Groups smaller than this are never flagged: their median is not robust.
MIN_GROUP = 5
#: Health thresholds (see :func:`verdict`).
NOISY_NOISE, UNRELIABLE_NOISE = 0.05, 0.15
UNRELIABLE_SHARE, UNRELIABLE_GROUP_SHARE = 0.05, 0.20
NOISY_STEAL = 0.05
VERDICTS = ("ok", "noisy", "unreliable", "unknown")


@dataclass(frozen=True)
class TimingFlags:
    """Outlier flags and residuals of every prompt's two decodes.

    Attributes
    ----------
    plain, spec : ndarray of bool
        Whether each prompt's plain / speculative decode is a timing outlier.
    plain_residual, spec_residual : ndarray
        Log residuals against the model, less ``offset``.
    plain_offset, spec_offset : ndarray
        Each prompt's typical log residual: its group's shrunk median plus
        the clean residuals' centre ``mu``.
    spread : dict
        Robust spread sigma of the centred residuals, per decode kind, and
        under ``"speedup"`` that of their difference (plain less speculative:
        the log residual of each prompt's speed-up). A change of the
        machine's speed that both decodes of a prompt share moves the first
        two and not the third.
    fence : dict
        The log excess above which a decode is flagged, per decode kind.
    """

    plain: np.ndarray
    spec: np.ndarray
    plain_residual: np.ndarray
    spec_residual: np.ndarray
    plain_offset: np.ndarray
    spec_offset: np.ndarray
    spread: dict[str, float]
    fence: dict[str, float]

    @property
    def any(self) -> np.ndarray:
        """Prompts with at least one flagged decode."""
        return self.plain | self.spec


def _group_offsets(residual: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each prompt's group offset (its group's median shrunk to the run's), and who is judged.

    A group's median residual is the sum of a real offset (work the cost
    model does not price, alike for every prompt of the group) and sampling
    noise, of variance ``(pi / 2) s^2 / n`` for ``n`` residuals of spread
    ``s``. Each median is shrunk towards the run's by the share of the
    medians' spread that is not noise (an empirical-Bayes weight, after
    James and Stein). The spread between groups is the MAD of their medians:
    a group whose decodes a neighbour slowed together stands out from it and
    is not taken for a real offset, while a real spread of offsets across
    the groups is kept.
    """
    frame = pd.DataFrame({"key": keys, "r": residual})
    grouped = frame.groupby("key", sort=False)["r"]
    median = grouped.transform("median").to_numpy(float)
    judged = grouped.transform("size").to_numpy() >= MIN_GROUP
    sizes = grouped.size()
    medians = grouped.median()[sizes >= MIN_GROUP].to_numpy(float)
    if len(medians) < 2:  # at most one group to judge: its median is the run's
        return median, judged
    centre = float(np.nanmedian(residual[judged]))
    within = robust_spread((residual - median)[judged])
    between = robust_spread(medians) ** 2
    noise = np.pi / 2 * within**2 / float(np.median(sizes[sizes >= MIN_GROUP]))
    weight = float(np.clip(1.0 - noise / between, 0.0, 1.0)) if between > 0 else 0.0
    return np.where(judged, centre + weight * (median - centre), median), judged


def flag_outliers(
    groups: Sequence[str],
    plain_s: Any,
    plain_model_s: Any,
    spec_s: Any,
    spec_model_s: Any,
) -> TimingFlags:
    """Flag decodes whose measured time is far above the modelled one.

    Parameters
    ----------
    groups : sequence of str
        Each prompt's group key (include the device in it when a group was
        timed on several devices).
    plain_s, plain_model_s, spec_s, spec_model_s : array_like
        Measured and modelled time of each prompt's plain and speculative decode.

    Returns
    -------
    TimingFlags
    """
    keys = np.asarray(groups, dtype=object)
    n_decodes = 2 * len(keys)
    z = float(norm.isf(FALSE_FLAG_RATE / max(n_decodes, 1)))
    out: dict[str, Any] = {"spread": {}, "fence": {}}
    for kind, measured, model in (
        ("plain", plain_s, plain_model_s),
        ("spec", spec_s, spec_model_s),
    ):
        with np.errstate(divide="ignore", invalid="ignore"):
            raw = np.log(np.asarray(measured, dtype=float) / np.asarray(model, dtype=float))
        offset, judged = _group_offsets(raw, keys)
        # Centre and spread from both halves: a machine's own slow stretches
        # skew the residuals right, and the fast side alone would flag that
        # tail (module docstring).
        mu = finite_median((raw - offset)[judged])
        if np.isfinite(mu):
            offset = offset + mu
        centred = raw - offset
        sigma = robust_spread(centred[judged])
        fence = max(z * sigma, MIN_EXCESS) if np.isfinite(sigma) else np.inf
        out[kind] = judged & np.isfinite(centred) & (centred > fence)
        out[f"{kind}_residual"], out[f"{kind}_offset"] = centred, offset
        out["spread"][kind], out["fence"][kind] = sigma, float(fence)
    speedup = out["plain_residual"] - out["spec_residual"]
    out["spread"]["speedup"] = robust_spread(speedup[judged])
    return TimingFlags(**out)


def robust_times(measured_s: Any, model_s: Any, offset: Any, flagged: Any) -> np.ndarray:
    """Measured times, with flagged ones replaced by ``model * exp(group offset)``."""
    measured = np.asarray(measured_s, dtype=float)
    replacement = np.asarray(model_s, dtype=float) * np.exp(np.asarray(offset, dtype=float))
    return np.where(np.asarray(flagged, dtype=bool), replacement, measured)


@dataclass(frozen=True)
class TimingHealth:
    """How far a run's timings can be trusted (``metrics.json`` ``timing``).

    Attributes
    ----------
    verdict : str
        ``"ok"``, ``"noisy"`` (figures kept, with a warning), ``"unreliable"``
        (speed-up figures not to be acted on) or ``"unknown"`` (records of
        version 1, which hold no timing attempts).
    reasons : tuple of str
        Why the verdict is not ``"ok"``.
    n_prompts : int
    n_retimed : int
        Prompts the run timed again because a decode was an outlier.
    n_attempts : int
        Timings recorded in all (first decodes, repeats and re-timings).
    repeats : int or None
        Timings per prompt before re-timing (``--repeats``).
    n_flagged : int
        Prompts with a decode still flagged in the chosen timings; their
        robust times come from the model.
    flagged : tuple of str
        Their ids (at most 50).
    spread_plain, spread_spec : float or None
        Robust spread (sigma of the log ratio measured / modelled) of plain
        and speculative decode times around their group.
    fence_plain, fence_spec : float or None
        Flag thresholds as ratios measured / modelled over the group.
    spread_speedup : float or None
        Robust spread of each prompt's log speed-up around the model's (its
        plain decode's log residual less its speculative one's): what moves a
        group's speed-up. Smaller than the decodes' own spreads where the two
        decodes of a prompt slow down together (interleaved timing). None in
        metrics written before it was measured.
    modelled_gap : float or None
        Largest ``|speedup / speedup_modelled - 1|`` over the groups.
    load_1m_median, load_1m_max : float or None
        The OS 1-minute load average across the attempts.
    cpu_steal : float or None
        Share of CPU time the hypervisor stole while prompts were timed
        (attempts weighted by their duration; None where the OS does not
        report steal).
    cpu_steal_max : float or None
        Largest share stolen during one attempt (short attempts make it jumpy).
    cost_models : tuple of CostModel
        The fitted costs, one per device.
    n_steps_trimmed : int or None
        Stalled steps counted at their decode's typical speed
        (:mod:`specaudit.metrics.step_stalls`).
    trimmed_share : float or None
        Share of the run's measured decode time those steps' excess made up.
    """

    verdict: str
    reasons: tuple[str, ...]
    n_prompts: int
    n_retimed: int
    n_attempts: int
    repeats: int | None
    n_flagged: int
    flagged: tuple[str, ...]
    spread_plain: float | None
    spread_spec: float | None
    fence_plain: float | None
    fence_spec: float | None
    modelled_gap: float | None
    load_1m_median: float | None
    load_1m_max: float | None
    cpu_steal: float | None
    cpu_steal_max: float | None
    cost_models: tuple[CostModel, ...] = field(default=())
    n_steps_trimmed: int | None = None
    trimmed_share: float | None = None
    spread_speedup: float | None = None

    def summary(self) -> str:
        """One line for the console: verdict, re-timed and flagged prompts, spread."""
        spreads = [s for s in (self.spread_plain, self.spread_spec) if s is not None]
        spread = f"{100 * max(spreads):.1f}%" if spreads else "n/a"
        line = (
            f"timing: {self.verdict} ({self.n_retimed} prompts re-timed, {self.n_flagged} still "
            f"flagged of {self.n_prompts}; scatter around the cost model {spread}"
        )
        if self.spread_speedup is not None:
            line += f", of speed-ups {100 * self.spread_speedup:.1f}%"
        if self.n_steps_trimmed:
            line += (
                f"; {self.n_steps_trimmed} stalled steps trimmed, "
                f"{100 * (self.trimmed_share or 0.0):.1f}% of decode time"
            )
        if self.load_1m_max is not None:
            line += f"; load up to {self.load_1m_max:.1f}"
        line += ")"
        if self.reasons:
            line += ": " + "; ".join(self.reasons)
        return line

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "cost_models":
                value = [m.to_dict() for m in value]
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, float) and not np.isfinite(value):
                value = None
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TimingHealth:
        """Build from :meth:`to_dict` output."""
        values = {f.name: data.get(f.name) for f in fields(cls)}
        values["reasons"] = tuple(values["reasons"] or ())
        values["flagged"] = tuple(values["flagged"] or ())
        values["cost_models"] = tuple(CostModel.from_dict(m) for m in data.get("cost_models", ()))
        return cls(**values)


def group_noise(spread: float, weights: Any) -> float:
    """Relative noise that timing scatter alone puts on a group's speed-up.

    A group's ratio of summed times moves, to first order, by the
    time-weighted mean of its prompts' log speed-up residuals. With each
    prompt's residual scattering ``spread`` (the spread of its plain
    decode's log residual less its speculative one's, which a change of the
    machine's speed shared by both leaves alone), that is
    ``spread * sqrt(sum(w**2)) / sum(w)`` for prompt weights ``w`` (their
    times): ``spread / sqrt(n)`` for n equal prompts, more where a few long
    prompts carry the sum.
    """
    w = np.asarray(weights, dtype=float)
    w = w[np.isfinite(w) & (w > 0)]
    if not len(w) or not np.isfinite(spread):
        return float("inf")
    return float(spread * np.sqrt(np.sum(w**2)) / np.sum(w))


def verdict(
    *,
    has_attempts: bool,
    served: bool = False,
    judged: bool = True,
    n_prompts: int,
    n_flagged: int,
    worst_group_share: float,
    noise: float,
    cpu_steal: float | None,
) -> tuple[str, tuple[str, ...]]:
    """Classify a run's timing health, with the reasons.

    ``unreliable``: more than 5% of prompts still flagged, a group with more
    than 20% of its prompts flagged (its headline leans on the model), or
    timing scatter that alone moves a typical group's speed-up by more than
    15% (:func:`group_noise`, the median over groups). ``noisy``: any prompt
    still flagged, scatter worth more than 5% on a group's speed-up, or more
    than 5% CPU steal.
    ``unknown`` for records without timing attempts (version-1 records, and
    those of a serving backend, ``served``, which times whole requests), and
    where no group has the 5 prompts a robust judgement needs (``judged``).
    """
    if not has_attempts and served:
        return "unknown", ("a serving backend times whole requests: nothing was re-timed",)
    if not has_attempts:
        return "unknown", ("records of version 1 hold no timing attempts",)
    if not judged:
        return "unknown", (f"no group has {MIN_GROUP} prompts: timing not judged",)
    bad, warn = [], []
    share = n_flagged / n_prompts if n_prompts else 0.0
    if share > UNRELIABLE_SHARE:
        bad.append(f"{100 * share:.0f}% of prompts still have a stalled timing")
    elif n_flagged:
        have = "prompt still has" if n_flagged == 1 else "prompts still have"
        warn.append(f"{n_flagged} {have} a stalled timing (modelled times used)")
    if worst_group_share > UNRELIABLE_GROUP_SHARE:
        bad.append(f"a group has {100 * worst_group_share:.0f}% of its prompts flagged")
    scatter = f"timing scatter alone moves a group's speed-up by about {100 * noise:.0f}%"
    if noise > UNRELIABLE_NOISE:
        bad.append(scatter)
    elif noise > NOISY_NOISE:
        warn.append(scatter)
    if cpu_steal is not None and cpu_steal > NOISY_STEAL:
        warn.append(f"{100 * cpu_steal:.0f}% of CPU time was stolen by the hypervisor")
    if bad:
        return "unreliable", tuple(bad + warn)
    return ("noisy" if warn else "ok"), tuple(warn)


def _finite_or_none(values: list[float], reduce) -> float | None:
    values = [v for v in values if v is not None and np.isfinite(v)]
    return float(reduce(values)) if values else None


@dataclass(frozen=True)
class TimingAssessment:
    """Everything :func:`timing_assessment` derives, per prompt and for the run."""

    models: dict[str, CostModel]
    flags: TimingFlags
    plain_model_s: np.ndarray
    spec_model_s: np.ndarray
    plain_robust_s: np.ndarray
    spec_robust_s: np.ndarray
    trim: StepTrim

    def health(
        self,
        records: Sequence[Mapping[str, Any]],
        *,
        groups: Sequence[str],
        modelled_gap: float | None,
    ) -> TimingHealth:
        """Summarise the run's timing health (see :func:`verdict`)."""
        flagged = self.flags.any
        ids = [str(r["id"]) for r in records]
        attempts = [r.get("timing_attempts") or [] for r in records]
        has_attempts = any(attempts)
        by_group = pd.Series(flagged).groupby(np.asarray(groups, dtype=object))
        shares = by_group.mean()
        spreads = [self.flags.spread["plain"], self.flags.spread["spec"]]
        spread = _finite_or_none(spreads, max)
        speedup_spread = self.flags.spread["speedup"]
        weights = pd.Series(self.plain_model_s + self.spec_model_s)
        noises = weights.groupby(np.asarray(groups, dtype=object)).apply(
            lambda w: group_noise(speedup_spread, w)
        )
        loads = [a.get("load_1m") for a_list in attempts for a in a_list]
        steals = [a.get("cpu_steal") for a_list in attempts for a in a_list]
        repeats = [
            sum(a.get("reason") != "retime" for a in a_list) for a_list in attempts if a_list
        ]
        steal_max = _finite_or_none(steals, max)
        durations = [
            (a.get("cpu_steal"), a["plain_time_s"] + a["spec_time_s"])
            for a_list in attempts
            for a in a_list
            if a.get("cpu_steal") is not None
        ]
        steal = (
            sum(v * w for v, w in durations) / sum(w for _, w in durations) if durations else None
        )
        label, reasons = verdict(
            has_attempts=has_attempts,
            served=any(served_by_backend(r) for r in records),
            judged=spread is not None,
            n_prompts=len(records),
            n_flagged=int(flagged.sum()),
            worst_group_share=float(shares.max()) if len(shares) else 0.0,
            noise=float(np.median(noises)) if len(noises) and spread is not None else 0.0,
            cpu_steal=steal,
        )
        fence = self.flags.fence
        return TimingHealth(
            verdict=label,
            reasons=reasons,
            n_prompts=len(records),
            n_retimed=sum(any(a.get("reason") == "retime" for a in a_list) for a_list in attempts),
            n_attempts=sum(len(a_list) for a_list in attempts),
            repeats=max(repeats) if repeats else None,
            n_flagged=int(flagged.sum()),
            flagged=tuple(i for i, f in zip(ids, flagged, strict=True) if f)[:50],
            spread_plain=_finite_or_none([spreads[0]], max),
            spread_spec=_finite_or_none([spreads[1]], max),
            spread_speedup=_finite_or_none([speedup_spread], max),
            fence_plain=float(np.exp(fence["plain"])) if np.isfinite(fence["plain"]) else None,
            fence_spec=float(np.exp(fence["spec"])) if np.isfinite(fence["spec"]) else None,
            modelled_gap=modelled_gap,
            load_1m_median=_finite_or_none(loads, np.median),
            load_1m_max=_finite_or_none(loads, max),
            cpu_steal=steal,
            cpu_steal_max=steal_max,
            cost_models=tuple(self.models.values()),
            n_steps_trimmed=self.trim.n_steps_trimmed,
            trimmed_share=self.trim.share(
                # None (a serving run without a plain baseline) reads as NaN.
                np.array([r["baseline_time_s"] for r in records], dtype=float),
                np.array([r["spec_time_s"] for r in records], dtype=float),
            ),
        )


def timing_assessment(records: Sequence[Mapping[str, Any]]) -> TimingAssessment:
    """Fit the cost model, flag outliers and derive robust times, in ``records`` order.

    Parameters
    ----------
    records : sequence of dict
        Validated records (the chosen timings of each prompt are read).
    """
    table = timing_table(records)
    models = fit_cost_models(records, table)
    plain_model, spec_model = modelled_times(table, models)
    keys = [
        f"{r['language']}/{r['task']}@{d}" for r, d in zip(records, table["device"], strict=True)
    ]
    # Stalled steps go first, so the outlier test sees what is left: a
    # decode slowed throughout, which no step of its own can be compared to.
    # Version-1 records were written without re-timing or attempts; their
    # figures stay what they always were (measured times), judged "unknown".
    timed = np.array([bool(r.get("timing_attempts")) for r in records], dtype=bool)
    trim = trim_step_stalls(records, models, timed=timed)
    plain = table["plain_s"].to_numpy(float) - trim.plain_excess_s
    spec = table["spec_s"].to_numpy(float) - trim.spec_excess_s
    flags = flag_outliers(keys, plain, plain_model, spec, spec_model)
    flags = replace(flags, plain=flags.plain & timed, spec=flags.spec & timed)
    # A prompt's two decodes were timed together, and what slows one
    # mostly slows the other too: replacing the flagged one alone would set a
    # modelled time against a slowed measured one, and bias that prompt's
    # ratio. So a flagged prompt gets modelled times for both (§8.6).
    return TimingAssessment(
        models=models,
        flags=flags,
        plain_model_s=plain_model,
        spec_model_s=spec_model,
        plain_robust_s=robust_times(plain, plain_model, flags.plain_offset, flags.any),
        spec_robust_s=robust_times(spec, spec_model, flags.spec_offset, flags.any),
        trim=trim,
    )


def with_robust_times(frame: pd.DataFrame, assessment: TimingAssessment) -> pd.DataFrame:
    """Put robust times into a prompt frame built in the same (records) order.

    ``baseline_time_s`` and ``spec_time_s`` become the robust times, which every
    speed-up downstream (groups, spread, contrasts, throughput) then uses; the
    measured ones move to ``plain_measured_s`` and ``spec_measured_s``. Adds
    ``plain_model_s``, ``spec_model_s``, ``timing_flagged`` and the per-prompt
    ratios ``speedup`` (robust) and ``speedup_raw`` (measured).
    """
    out = frame.copy()
    out["plain_measured_s"] = out["baseline_time_s"]
    out["spec_measured_s"] = out["spec_time_s"]
    out["baseline_time_s"] = assessment.plain_robust_s
    out["spec_time_s"] = assessment.spec_robust_s
    out["plain_model_s"] = assessment.plain_model_s
    out["spec_model_s"] = assessment.spec_model_s
    out["timing_flagged"] = assessment.flags.any
    with np.errstate(divide="ignore", invalid="ignore"):
        out["speedup_raw"] = out["plain_measured_s"] / out["spec_measured_s"]
        out["speedup"] = out["baseline_time_s"] / out["spec_time_s"]
    return out
