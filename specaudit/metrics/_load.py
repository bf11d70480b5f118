"""Read ``records.jsonl`` lines into step-level and prompt-level tables.

The metrics read the JSON lines themselves (plain dicts; the field reference
is the docstring of :mod:`specaudit.records`) so that they import without
torch. Everything downstream works on the prompt-level table: every estimator
is a function of per-prompt sums, which is what makes prompt resampling cheap.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from specaudit.metrics.timing import TimingAssessment, timing_assessment, with_robust_times
from specaudit.records import PROMPT_FIELDS, READABLE_VERSIONS, STEP_FIELDS

__all__ = [
    "infer_gamma",
    "load_records",
    "prompt_frame",
    "step_frame",
    "validate_records",
]


def _problem(record: Any) -> str | None:
    """Describe what makes ``record`` unreadable, or return ``None``."""
    if not isinstance(record, Mapping):
        return f"expected a JSON object, got {type(record).__name__}"
    version = record.get("record_version")
    if version not in READABLE_VERSIONS:
        expected = " or ".join(map(str, READABLE_VERSIONS))
        return f"record_version {version!r} is not supported (expected {expected})"
    missing = [name for name in PROMPT_FIELDS if name not in record]
    if missing:
        return f"record lacks fields: {', '.join(missing)}"
    if not isinstance(record["steps"], list):
        return "field 'steps' is not a list"
    for t, step in enumerate(record["steps"]):
        if not isinstance(step, Mapping):
            return f"step {t} is not a JSON object"
        missing = [name for name in STEP_FIELDS if name not in step]
        if missing:
            return f"step {t} lacks fields: {', '.join(missing)}"
    return None


def load_records(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read a ``records.jsonl`` file into a list of dicts.

    Blank lines are skipped.

    Parameters
    ----------
    path : path
        The ``records.jsonl`` file.

    Returns
    -------
    list of dict
        One parsed record per line.

    Raises
    ------
    ValueError
        For a malformed line (bad JSON, not an object, wrong
        ``record_version``, missing fields), naming the line number.
    """
    records: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}: line {lineno}: malformed JSON: {exc.msg}") from None
            problem = _problem(record)
            if problem is not None:
                raise ValueError(f"{path}: line {lineno}: {problem}")
            records.append(record)
    return records


def validate_records(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Check record dicts and return them as a list.

    Raises
    ------
    ValueError
        If there are no records, a record is malformed (named by its position
        and id) or two records share an ``id`` within a group.
    """
    out = list(records)
    if not out:
        raise ValueError("records is empty: nothing to compute metrics from")
    seen: set[tuple[str, str, str]] = set()
    for i, record in enumerate(out):
        problem = _problem(record)
        if problem is not None:
            rid = record.get("id") if isinstance(record, Mapping) else None
            raise ValueError(f"records[{i}] (id {rid!r}): {problem}")
        key = (str(record["language"]), str(record["task"]), str(record["id"]))
        if key in seen:
            raise ValueError(
                f"records[{i}]: duplicate prompt id {record['id']!r} in {key[0]}/{key[1]}"
            )
        seen.add(key)
    return out


def step_frame(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per speculative step.

    Columns: ``prompt`` (row of the record in ``records``), ``step``,
    ``drafted``, ``accepted``, ``rejected``, ``verified`` (positions the target
    verified: ``accepted + rejected``), ``emitted`` (as recorded; ``accepted + 1``
    except at an accepted end-of-sequence), and the
    sums over the verified positions ``alpha_sum``, ``cross_entropy_sum``,
    ``kl_sum``.

    Raises
    ------
    ValueError
        If a step is inconsistent (``accepted > drafted``, ``rejected`` not
        ``accepted < drafted``, per-position lists not of length ``verified``).
    """
    records = list(records)
    rows: list[tuple[Any, ...]] = []
    for p, record in enumerate(records):
        for t, s in enumerate(record["steps"]):
            rows.append(
                (
                    p,
                    t,
                    s["drafted"],
                    s["accepted"],
                    bool(s["rejected"]),
                    s.get("emitted", s["accepted"] + 1),
                    *_positions(s, "alpha"),
                    *_positions(s, "cross_entropy"),
                    *_positions(s, "kl"),
                )
            )
    columns = [
        "prompt",
        "step",
        "drafted",
        "accepted",
        "rejected",
        "emitted",
        "_n_alpha",
        "alpha_sum",
        "_n_ce",
        "cross_entropy_sum",
        "_n_kl",
        "kl_sum",
    ]
    frame = pd.DataFrame.from_records(rows, columns=columns)
    for col in ("prompt", "step", "drafted", "accepted", "emitted", "_n_alpha", "_n_ce", "_n_kl"):
        frame[col] = frame[col].astype(np.int64)
    frame["rejected"] = frame["rejected"].astype(bool)
    frame["verified"] = frame["accepted"] + frame["rejected"].astype(np.int64)
    bad = (
        (frame["accepted"] < 0)
        | (frame["accepted"] > frame["drafted"])
        # A rejection means fewer accepted than drafted; the converse fails only
        # where an accepted end-of-sequence ended the output (emitted == accepted).
        | (frame["rejected"] & (frame["accepted"] >= frame["drafted"]))
        | (
            ~frame["rejected"]
            & (frame["accepted"] < frame["drafted"])
            & (frame["emitted"] != frame["accepted"])
        )
        | (frame["emitted"] < 1)
        | (frame["emitted"] < frame["accepted"])
        | (frame["emitted"] > frame["accepted"] + 1)
        # -1: not reported by the backend (null), see _positions.
        | ((frame["_n_alpha"] != frame["verified"]) & (frame["_n_alpha"] >= 0))
        | ((frame["_n_ce"] != frame["verified"]) & (frame["_n_ce"] >= 0))
        | ((frame["_n_kl"] != frame["verified"]) & (frame["_n_kl"] >= 0))
    )
    if bad.any():
        first = frame[bad].iloc[0]
        rid = records[int(first["prompt"])]["id"]
        raise ValueError(
            f"record {rid!r}, step {int(first['step'])}: inconsistent step (drafted="
            f"{int(first['drafted'])}, accepted={int(first['accepted'])}, rejected="
            f"{bool(first['rejected'])}, {int(first['_n_alpha'])} alpha values; expected "
            "accepted <= drafted, rejected == (accepted < drafted) unless an accepted "
            "end-of-sequence ended the step, and one alpha, "
            "cross_entropy and kl per verified position)"
        )
    return frame.drop(columns=["_n_alpha", "_n_ce", "_n_kl"])


def _positions(step: Mapping[str, Any], name: str) -> tuple[int, float]:
    """(count, sum) of a per-position list; ``(-1, NaN)`` where it is ``null``.

    Serving backends cannot compute alpha, cross-entropy or KL and write
    ``null`` (docs/serving.md): the sums stay NaN, so every metric built on
    them is undefined (``null`` in metrics.json), never zero.
    """
    values = step[name]
    if values is None:
        return -1, float("nan")
    return len(values), float(sum(values))


def infer_gamma(steps: pd.DataFrame) -> int:
    """Return the largest ``drafted`` in a step table (0 when there are no steps)."""
    return int(steps["drafted"].max()) if len(steps) else 0


def prompt_frame(
    records: Iterable[Mapping[str, Any]],
    *,
    steps: pd.DataFrame | None = None,
    gamma: int,
    timing: TimingAssessment | None = None,
) -> pd.DataFrame:
    """One row per prompt with the per-prompt sums every estimator needs.

    Rows follow ``records``. Columns:

    - identity: ``id``, ``language``, ``task``, ``group`` (``"language/task"``),
      ``item_id``, ``split``, ``lossless``;
    - text: ``prompt``, ``output_text`` and ``reference`` (``None`` when a
      record lacks them), and ``output_ids`` (a list per row);
    - step sums: ``n_steps``, ``drafted``, ``accepted``, ``rejections``,
      ``verified``, ``emitted`` (= sum of n_t + 1), ``alpha_sum``,
      ``cross_entropy_sum``, ``kl_sum``;
    - per draft position i = 1..gamma: ``pos_verified_i``, ``pos_accepted_i``;
    - prompt fields: ``n_output_tokens`` (``len(output_ids)``),
      ``output_chars``, ``baseline_time_s``, ``spec_time_s``,
      ``draft_forward_s``, ``target_forward_s``, ``n_draft_forwards``;
    - timing (:func:`~specaudit.metrics.timing.with_robust_times`):
      ``baseline_time_s`` and ``spec_time_s`` are the robust times that every
      speed-up uses (both decodes of a timing outlier replaced by their
      modelled times), the measured ones are ``plain_measured_s`` and
      ``spec_measured_s``, beside ``plain_model_s``, ``spec_model_s`` and
      ``timing_flagged``;
    - the prompt's own ratios ``speedup`` (robust) and ``speedup_raw``.

    Parameters
    ----------
    records : iterable of dict
        Validated records (see :func:`validate_records`).
    steps : DataFrame, optional
        Their :func:`step_frame`, if already built.
    gamma : int
        Number of draft positions to tabulate.
    timing : TimingAssessment, optional
        The records' :func:`~specaudit.metrics.timing.timing_assessment`, if
        already made.
    """
    records = list(records)
    if steps is None:
        steps = step_frame(records)
    n = len(records)
    frame = pd.DataFrame(
        {
            "id": [str(r["id"]) for r in records],
            "language": [str(r["language"]) for r in records],
            "task": [str(r["task"]) for r in records],
            "item_id": [None if r["item_id"] is None else str(r["item_id"]) for r in records],
            "split": [r.get("split") for r in records],
            "lossless": [r.get("lossless") for r in records],
            "prompt": [r.get("prompt") for r in records],
            "output_text": [r.get("output_text") for r in records],
            "reference": [r.get("reference") for r in records],
            "output_ids": [list(r["output_ids"]) for r in records],
        }
    )
    frame["group"] = frame["language"] + "/" + frame["task"]
    row = steps["prompt"].to_numpy()

    def per_prompt(values: Any) -> np.ndarray:
        return np.bincount(row, weights=np.asarray(values, dtype=float), minlength=n)

    frame["n_steps"] = np.bincount(row, minlength=n)
    frame["drafted"] = per_prompt(steps["drafted"])
    frame["accepted"] = per_prompt(steps["accepted"])
    frame["rejections"] = per_prompt(steps["rejected"])
    frame["verified"] = per_prompt(steps["verified"])
    frame["emitted"] = per_prompt(steps["emitted"])
    for name in ("alpha_sum", "cross_entropy_sum", "kl_sum"):
        frame[name] = per_prompt(steps[name])
    verified = steps["verified"].to_numpy()
    accepted = steps["accepted"].to_numpy()
    for i in range(1, gamma + 1):
        frame[f"pos_verified_{i}"] = per_prompt(verified >= i)
        frame[f"pos_accepted_{i}"] = per_prompt(accepted >= i)
    frame["n_output_tokens"] = [len(r["output_ids"]) for r in records]
    for name in (
        "output_chars",
        "baseline_time_s",
        "spec_time_s",
        "draft_forward_s",
        "target_forward_s",
        "n_draft_forwards",
    ):
        frame[name] = np.array([_number(r[name]) for r in records], dtype=float)
    if timing is None:
        timing = timing_assessment(records)
    return with_robust_times(frame, timing)


def _number(value: Any) -> float:
    return np.nan if value is None else float(value)
