"""``specaudit mitigate``: retrain the drafter and audit it before and after."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from specaudit.cli_common import (
    EXIT_INTERRUPTED,
    csv_list,
    errors_to_exit,
    write_metrics,
    write_report,
)
from specaudit.errors import UserInputError, validation_line

__all__ = ["mitigate"]

STRATEGY_HELP = (
    "scdf (s-CDF), balanced, task (translation only), mono (monolingual LM), "
    "ngram, or all (every one, plus a comparison report)."
)


def _mitigation_configs(strategy: str, options: dict) -> list:
    from pydantic import ValidationError

    from specaudit.mitigation.config import STRATEGIES, MitigationConfig

    names = list(STRATEGIES) if strategy == "all" else [strategy]
    if strategy != "all" and strategy not in STRATEGIES:
        raise UserInputError(f"unknown --strategy {strategy!r}; use {', '.join(STRATEGIES)} or all")
    given = {k: v for k, v in options.items() if v is not None}
    try:
        return [MitigationConfig(strategy=name, **given) for name in names]
    except ValidationError as err:
        line = validation_line(err.errors(), name=lambda field: "--" + field.replace("_", "-"))
        raise UserInputError(f"invalid {line}") from None


@errors_to_exit
def mitigate(
    strategy: Annotated[str, typer.Option(help=STRATEGY_HELP)] = "scdf",
    out: Annotated[Path, typer.Option(help="Mitigation directory.")] = Path("runs/mitigation"),
    target: Annotated[
        str | None, typer.Option(help="Target model: hub id, directory or .gguf file.")
    ] = None,
    drafter: Annotated[str | None, typer.Option(help="Drafter to retrain.")] = None,
    run: Annotated[
        Path | None,
        typer.Option("--run", help="Take the pair, groups and settings from this audit run."),
    ] = None,
    languages: Annotated[
        str | None, typer.Option(help="Comma-separated languages (default: every one).")
    ] = None,
    n_prompts: Annotated[
        int | None,
        typer.Option("--n-prompts", help="Held-out prompts per group in the follow-up audits."),
    ] = None,
    steps: Annotated[int | None, typer.Option(help="Optimiser steps at most.")] = None,
    lr: Annotated[float | None, typer.Option(help="Peak learning rate.")] = None,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", help="Sequences per group per step.")
    ] = None,
    time_budget: Annotated[
        float | None,
        typer.Option("--time-budget", help="Seconds of training at most, per strategy."),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Training seed.")] = None,
    patience: Annotated[
        int | None,
        typer.Option(help="Probe evaluations without improvement before stopping early."),
    ] = None,
    n_train: Annotated[
        int | None,
        typer.Option("--n-train", help="Training prompts per language and kind (train split)."),
    ] = None,
    n_probe: Annotated[
        int | None,
        typer.Option("--n-probe", help="Probe prompts per language and kind (held back)."),
    ] = None,
    weighting: Annotated[
        str | None, typer.Option(help="s-CDF: 'loss' (weighted loss) or 'sample' (weighted draws).")
    ] = None,
    divergence: Annotated[
        str | None, typer.Option(help="s-CDF weights on 'kl' or 'cross_entropy' (the paper's D).")
    ] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu, cuda or cuda:N.")] = None,
    threads: Annotated[int | None, typer.Option(help="CPU threads for torch.")] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue a mitigation in --out.")
    ] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress")] = True,
) -> None:
    """Retrain the drafter (or build an n-gram one); audit it before/after on held-out prompts."""
    import torch

    from specaudit.audit.config import load_config
    from specaudit.mitigation.pipeline import mitigate as run_mitigation

    if run is not None and not (run / "config.yaml").is_file():
        raise UserInputError(f"--run {run} has no config.yaml; give an audit run directory")
    if (out / "mitigation.json").is_file() and not resume:
        raise UserInputError(f"{out} already holds a mitigation; pass --resume or a new --out")
    overrides = {
        "target": target,
        "drafter": drafter,
        "languages": csv_list(languages),
        "n_prompts": n_prompts,
        "device": device,
        "threads": threads,
    }
    audit = load_config(run / "config.yaml" if run else None, overrides)
    configs = _mitigation_configs(
        strategy,
        {
            "steps": steps,
            "lr": lr,
            "batch_size": batch_size,
            "time_budget": time_budget,
            "seed": seed,
            "patience": patience,
            "n_train": n_train,
            "n_probe": n_probe,
            "weighting": weighting,
            "divergence": divergence,
        },
    )
    if audit.threads is not None:
        torch.set_num_threads(audit.threads)
    from specaudit.audit.runner import AuditInterrupted

    try:
        results = run_mitigation(audit, configs, out, log=typer.echo, progress=progress)
    except (KeyboardInterrupt, AuditInterrupted):
        # Checkpoints, cached data and finished audit prompts are on disk.
        typer.echo(
            f"interrupted: continue with `specaudit mitigate ... --out {out} --resume`", err=True
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    write_metrics(results[0].before, summary=False)
    from specaudit.metrics import MetricsResult
    from specaudit.mitigation.card import add_audit_figures

    before = MetricsResult.read(results[0].before)
    for r in results:
        write_metrics(r.after, summary=False)
        if r.card is not None:  # the audit's U beside the training objective's
            add_audit_figures(r.card, before, MetricsResult.read(r.after))
        write_report(r.after, compare=r.before, training=r.training_log)
    if len(results) > 1:
        from specaudit.reports.strategies import render_strategies

        path, table = render_strategies(
            out, [(r.strategy, r.after) for r in results], before=results[0].before
        )
        typer.echo(table)
        typer.echo(f"strategies report: {path}")
