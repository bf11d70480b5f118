"""What does a verify (and a draft) cost per number of tokens? Per-length medians of finished runs.

    python bench/verify_lengths.py RUN_DIR [RUN_DIR ...]

For each run, over the chosen timings of every speculative step: the median
verify time per number of tokens scored (``drafted + 1``) and the median
drafting time per number drafted, with the number of steps at each length;
then the slope the cost model fits to the verify times, and the slope a
free median regression gives. The cost model holds a slope at zero or
above (``docs/method.md#cost-model``); this shows where that matters.
Read-only; it decodes nothing.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from specaudit.metrics import load_records
from specaudit.metrics.costmodel import _median_line, fit_cost_models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    args = parser.parse_args()
    for run in args.runs:
        records = load_records(run / "records.jsonl")
        steps = [s for r in records for s in r["steps"]]
        drafted = np.array([s["drafted"] for s in steps], dtype=float)
        verify = np.array([s["verify_time_s"] for s in steps], dtype=float)
        draft = np.array([s["draft_time_s"] for s in steps], dtype=float)
        threads = json.loads((run / "environment.json").read_text()).get("threads")
        print(f"{run} ({threads} torch threads, {len(steps)} steps)")
        print(f"{'tokens':>8}{'steps':>7}{'verify ms':>11}{'draft ms':>10}")
        for k in np.unique(drafted):
            at = drafted == k
            print(
                f"{int(k) + 1:>8}{int(at.sum()):>7}{1e3 * np.median(verify[at]):>11.2f}"
                f"{1e3 * np.median(draft[at]):>10.2f}"
            )
        (model,) = fit_cost_models(records).values()
        print(
            f"verify slope: fitted {1e3 * model.verify_per_token_s:+.3f} ms per token, "
            f"free median regression {1e3 * _median_line(drafted + 1, verify, clamp=False)[1]:+.3f}"
        )


if __name__ == "__main__":
    main()
