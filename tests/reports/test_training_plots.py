"""Training curves read from a mitigation's training.csv."""

from __future__ import annotations

import pandas as pd
import pytest

from specaudit.errors import UserInputError
from specaudit.reports.training_plots import read_training_log, training_plots


def _log(weights: dict[str, list[float]]) -> pd.DataFrame:
    rows = []
    for i, step in enumerate((0, 25, 50)):
        row = {"step": step, "unfairness_u": 0.5 - 0.1 * i, "unfairness_u_kl": 0.02 - 0.005 * i}
        for g, w in weights.items():
            row[f"alpha_{g}"] = 0.6 + 0.05 * i
            row[f"weight_{g}"] = w[i]
        rows.append(row)
    return pd.DataFrame(rows)


def test_weights_plot_only_when_groups_are_weighted_unequally():
    uniform = training_plots(_log({"en": [0.5] * 3, "sw": [0.5] * 3}))
    assert [p.key for p in uniform] == ["training-u", "training-alpha"]
    shifted = training_plots(_log({"en": [0.0, 0.1, 0.0], "sw": [1.0, 0.9, 1.0]}), best_step=25)
    assert [p.key for p in shifted][-1] == "training-weights"
    assert all(p.svg.startswith("<svg") for p in shifted)
    assert "sw" in shifted[1].svg  # group names are drawn as SVG text


def test_an_unreadable_or_incomplete_log_is_a_one_line_error(tmp_path):
    with pytest.raises(UserInputError, match="cannot read training log"):
        read_training_log(tmp_path / "missing.csv")
    bad = tmp_path / "training.csv"
    bad.write_text("step,unfairness_u\n0,0.5\n")
    with pytest.raises(UserInputError, match="unfairness_u_kl"):
        read_training_log(bad)
