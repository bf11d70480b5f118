"""``specaudit tune``: predict each group's best drafter and draft length, write routing.yaml."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from specaudit.cli_common import errors_to_exit
from specaudit.errors import UserInputError

__all__ = ["tune"]


@errors_to_exit
def tune(
    run_dirs: Annotated[
        list[Path],
        typer.Argument(help="Audits of one target on one prompt set, one drafter each."),
    ],
    objective: Annotated[
        str, typer.Option(help="maximin (worst group), mean, or mean-no-loss (no group < 1.0x).")
    ] = "maximin",
    by: Annotated[
        str, typer.Option(help="Route each (language, task) group, or each language.")
    ] = "group",
    out: Annotated[Path, typer.Option(help="Routing file to write.")] = Path("routing.yaml"),
    max_gamma: Annotated[
        int, typer.Option("--max-gamma", min=1, help="Consider draft lengths 1..N.")
    ] = 8,
    n_boot: Annotated[int, typer.Option(help="Bootstrap resamples per interval.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the resampling.")] = 0,
) -> None:
    """Route each group to the drafter and draft length predicted fastest (see run --routing)."""
    from specaudit.metrics.route_choice import OBJECTIVES
    from specaudit.tune import format_tune, tune_runs

    if objective not in OBJECTIVES:
        raise UserInputError(f"--objective {objective!r} is not valid; use {', '.join(OBJECTIVES)}")
    if by not in ("group", "language"):
        raise UserInputError(f"--by {by!r} is not valid; use group or language")
    if n_boot < 1:
        raise UserInputError(f"--n-boot must be at least 1, got {n_boot}")
    start = time.perf_counter()
    result = tune_runs(
        run_dirs,
        objective=objective,
        by=by,
        gammas=range(1, max_gamma + 1),
        n_boot=n_boot,
        seed=seed,
    )
    try:
        out.write_text(result.table.to_yaml(), encoding="utf-8")
    except OSError as err:
        raise UserInputError(f"cannot write {out}: {err.strerror}") from None
    typer.echo(format_tune(result))
    typer.echo(
        f"routing: {out} ({time.perf_counter() - start:.1f} s); verify it with "
        f"`specaudit run --routing {out} --out RUN_DIR`"
    )
