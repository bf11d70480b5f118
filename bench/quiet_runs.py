"""Is the gap between measured and modelled speed-up noise or misfit? Several quiet runs compared.

    python bench/quiet_runs.py RUN_DIR RUN_DIR [RUN_DIR ...]

Each run directory holds a finished default audit of the same prompts on
the same machine (for example the ``quiet`` runs of ``bench/noise.py``).
For every run it fits the cost model on the chosen timings and prints the
scatter of each prompt's log residual (measured against modelled time) for
plain and speculative decodes and for their ratio. Then, for every two
runs, the correlation of the same prompts' residuals: a prompt the model
misprices would show up in every run (correlation well above 0), while
timing noise is fresh in each. Last, per group, the gap between the modelled
and the measured ratio of summed times in each run, its mean over the runs,
and the standard error of that mean: a group the model misfits keeps the
sign of its gap. Read-only; it decodes nothing.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
import pandas as pd

from specaudit.metrics import load_records
from specaudit.metrics.costmodel import fit_cost_models, modelled_times, timing_table


def _residuals(run_dir: Path) -> pd.DataFrame:
    """Per prompt: group, log residuals of both decodes and of their ratio, and all four times."""
    records = load_records(run_dir / "records.jsonl")
    table = timing_table(records)
    plain_model, spec_model = modelled_times(table, fit_cost_models(records, table))
    frame = pd.DataFrame(
        {
            "group": [f"{r['language']}/{r['task']}" for r in records],
            "plain": np.log(table["plain_s"].to_numpy(float) / plain_model),
            "spec": np.log(table["spec_s"].to_numpy(float) / spec_model),
            "plain_s": table["plain_s"].to_numpy(float),
            "spec_s": table["spec_s"].to_numpy(float),
            "plain_model_s": plain_model,
            "spec_model_s": spec_model,
        },
        index=[r["id"] for r in records],
    )
    frame["ratio"] = frame["plain"] - frame["spec"]
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+")
    args = parser.parse_args()
    if len(args.runs) < 2:
        parser.error("give at least two run directories")
    runs = {str(path): _residuals(path) for path in args.runs}

    print("log residual against the cost model, standard deviation per prompt")
    print(f"{'run':<32}{'plain':>8}{'spec':>8}{'ratio':>8}{'corr(plain, spec)':>20}")
    for name, frame in runs.items():
        corr = np.corrcoef(frame["plain"], frame["spec"])[0, 1]
        print(
            f"{name:<32}{frame['plain'].std():>8.3f}{frame['spec'].std():>8.3f}"
            f"{frame['ratio'].std():>8.3f}{corr:>20.2f}"
        )

    print("\nthe same prompts' residuals in two runs, correlation")
    print(f"{'runs':<66}{'plain':>8}{'spec':>8}{'ratio':>8}")
    for (a, fa), (b, fb) in itertools.combinations(runs.items(), 2):
        shared = fa.index.intersection(fb.index)
        cells = [
            np.corrcoef(fa.loc[shared, k], fb.loc[shared, k])[0, 1]
            for k in ("plain", "spec", "ratio")
        ]
        print(f"{a + ' / ' + b:<66}" + "".join(f"{c:>8.2f}" for c in cells))

    gaps = {}
    for name, frame in runs.items():
        sums = frame.groupby("group", sort=False)[
            ["plain_s", "spec_s", "plain_model_s", "spec_model_s"]
        ].sum()
        measured = sums["plain_s"] / sums["spec_s"]
        modelled = sums["plain_model_s"] / sums["spec_model_s"]
        gaps[name] = modelled / measured - 1.0
    table = pd.DataFrame(gaps)
    mean = table.mean(axis=1)
    se = table.std(axis=1, ddof=1) / np.sqrt(table.shape[1])
    print("\nper group: modelled / measured ratio of summed times - 1, in each run")
    for group, row in table.iterrows():
        cells = "".join(f"{v:>+8.1%}" for v in row)
        print(f"{group:<16}{cells}   mean {mean[group]:>+6.1%} (s.e. {se[group]:.1%})")
    signs = np.sign(table.to_numpy())
    kept = int(np.sum(np.all(signs == signs[:, :1], axis=1)))
    print(
        f"groups whose gap keeps its sign in every run: {kept} of {len(table)}; "
        f"largest |gap| per run: " + ", ".join(f"{v:.1%}" for v in table.abs().max())
    )
    print(
        f"spread of the groups' mean gaps: {mean.std(ddof=1):.1%}; "
        f"expected from noise alone: {np.sqrt(np.mean(se**2)):.1%}"
    )


if __name__ == "__main__":
    main()
