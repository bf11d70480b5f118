"""Metrics of a speculative-decoding audit: acceptance, speed-up, disparity, with intervals.

Pure numpy/pandas/scipy/statsmodels; importing it never imports torch.

Typical use::

    from specaudit.metrics import compute_metrics, load_records

    result = compute_metrics(load_records("runs/x/records.jsonl"))
    result.write("runs/x")  # metrics.json, groups.csv, prompts.csv

Estimator names follow docs/method.md#acceptance exactly (``acceptance_rate`` is the
Leviathan alpha, ``draft_acceptance_rate`` the serving engines' rate, ...);
see :mod:`specaudit.metrics.group` for every definition.
"""

from specaudit.metrics._load import load_records, prompt_frame, step_frame
from specaudit.metrics.compute import compute_metrics
from specaudit.metrics.result import (
    GROUP_METRICS,
    SCHEMA_VERSION,
    STATUS_INSUFFICIENT,
    STATUS_OK,
    Contrast,
    ContrastEstimate,
    Disparity,
    Estimate,
    GroupMetrics,
    MetricsResult,
    MetricsSettings,
    TaskDisparity,
)

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
    "compute_metrics",
    "load_records",
    "prompt_frame",
    "step_frame",
]
