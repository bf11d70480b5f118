"""specaudit: audit and mitigate disparate speed-ups of speculative decoding.

The public Python API (the CLI is a thin layer over it)::

    import specaudit

    config = specaudit.RunConfig(languages=["en", "de"], n_prompts=3)
    result = specaudit.run_pipeline(config, "runs/x")  # run, metrics, report
    print(result.metrics.disparity.worst_group)

Names are imported on first use, so ``import specaudit`` stays light: torch
and the models load only when an audit or a mitigation runs.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: Public name -> the module that defines it.
_EXPORTS = {
    "RunConfig": "specaudit.audit.config",
    "Run": "specaudit.pipeline",
    "PipelineResult": "specaudit.pipeline",
    "audit": "specaudit.pipeline",
    "compute_metrics": "specaudit.pipeline",
    "render_report": "specaudit.pipeline",
    "check_gate": "specaudit.pipeline",
    "run_pipeline": "specaudit.pipeline",
    "mitigate": "specaudit.mitigation.pipeline",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use (PEP 562)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'specaudit' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
