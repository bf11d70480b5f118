"""The ``specaudit`` command line: a thin typer layer over the library.

Each command parses typed options, builds a config, calls one library
function and says where the output went. User mistakes become one line on
stderr and exit code 2; runtime failures exit 3.
"""

from __future__ import annotations

import inspect
import typing
from pathlib import Path
from typing import Annotated, Any

import typer

from specaudit.cli_common import (
    EXIT_INTERRUPTED,
    errors_to_exit,
    write_metrics,
    write_report,
)
from specaudit.cli_config import config_overrides, config_parameters
from specaudit.cli_mitigate import mitigate
from specaudit.cli_tune import tune
from specaudit.errors import UserInputError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=False,
    help="Audit speculative decoding for disparate speed-ups across languages and tasks.",
)
ngram_app = typer.Typer(add_completion=False, help="Build n-gram drafters.")
app.add_typer(ngram_app, name="ngram")
app.command()(mitigate)
app.command()(tune)
prompts_app = typer.Typer(add_completion=False, help="Inspect and validate prompt sets.")
app.add_typer(prompts_app, name="prompts")


def run(
    *,
    config: Annotated[
        Path | None, typer.Option(help="YAML config; flags override its fields.")
    ] = None,
    gate_policy: Annotated[
        Path | None,
        typer.Option("--gate", help="Gate policy YAML: check the run and exit like `gate`."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Run directory. Default: runs/run-<timestamp>.")
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue the run in --out without redoing finished prompts.")
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    shard: Annotated[
        str | None,
        typer.Option(
            help="Decode only shard K/N (0-based), e.g. a Slurm array task; "
            "then `specaudit merge`. Not needed under accelerate launch or torchrun."
        ),
    ] = None,
    shard_by: Annotated[
        str,
        typer.Option(help="Split across processes by whole (language, task) group, or prompt."),
    ] = "group",
    **fields: Any,
) -> None:
    """Audit a drafter-target pair; with no arguments, the built-in demo pair."""
    from specaudit.audit.config import RunConfig, load_config
    from specaudit.audit.runner import AuditInterrupted
    from specaudit.audit.shard import ShardSpec
    from specaudit.pipeline import run_pipeline

    cfg = load_config(config, config_overrides(RunConfig, fields))
    shard_spec = ShardSpec.parse(shard) if shard is not None else None
    try:
        result = run_pipeline(
            cfg,
            out,
            policy=gate_policy,
            resume=resume,
            progress=progress,
            shard=shard_spec,
            shard_by=shard_by,
            log=typer.echo,
        )
    except AuditInterrupted as stop:
        typer.echo(
            f"interrupted: {stop.done}/{stop.total} prompts saved in {stop.run_dir}; "
            f"continue with --out {stop.run_dir} --resume",
            err=True,
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if result.gate is not None:
        raise typer.Exit(result.exit_code)


def _register_run() -> None:
    """Register ``run`` with its RunConfig options generated from the model's fields."""
    from specaudit.audit.config import RunConfig

    hints = typing.get_type_hints(run, include_extras=True)
    own = [
        p.replace(annotation=hints[p.name])
        for p in inspect.signature(run).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    params = config_parameters(RunConfig) + own
    run.__signature__ = inspect.Signature(params, return_annotation=None)
    run.__annotations__ = {p.name: p.annotation for p in params}
    app.command("run")(errors_to_exit(run))


_register_run()


@app.command()
@errors_to_exit
def merge(
    run_dir: Annotated[
        Path, typer.Argument(help="A run directory with records.rank-K.jsonl files.")
    ],
    gate_policy: Annotated[
        Path | None,
        typer.Option("--gate", help="Gate policy YAML: check the merged run and exit like `gate`."),
    ] = None,
) -> None:
    """Merge the shards of a run (e.g. Slurm array tasks) into records.jsonl, then metrics."""
    from specaudit.audit.rundir import RunDir
    from specaudit.pipeline import finish_run, log_merged

    if gate_policy is not None:  # a bad policy must fail before the merge, not after
        from specaudit.gate.policy import load_policy

        load_policy(gate_policy)
    directory = RunDir(run_dir)
    plan = directory.read_plan()
    if plan is None:
        raise UserInputError(
            f"{run_dir} has no shards.json: not a sharded run (run it with --shard K/N)"
        )
    log_merged(directory.merge(list(plan.ids)), typer.echo)
    _, _, gate_result = finish_run(run_dir, policy=gate_policy, log=typer.echo)
    if gate_result is not None:
        raise typer.Exit(gate_result.exit_code)


def _check_reference_language(run_dir: Path, language: str | None) -> None:
    """Refuse an explicit reference language that the run does not have."""
    import json

    if language is None:
        return
    with (run_dir / "records.jsonl").open(encoding="utf-8") as fh:
        languages = {json.loads(line).get("language") for line in fh if line.strip()}
    if language not in languages:
        raise UserInputError(
            f"--reference-language {language!r} is not in {run_dir} "
            f"(languages: {', '.join(sorted(map(str, languages)))})"
        )


@app.command()
@errors_to_exit
def metrics(
    run_dir: Annotated[Path, typer.Argument(help="A run directory with records.jsonl.")],
    reference_language: Annotated[
        str | None,
        typer.Option(help="Contrast each group with this language in the same task [default: en]."),
    ] = None,
    reference: Annotated[
        str | None, typer.Option(help="An explicit reference group, LANGUAGE/TASK.")
    ] = None,
    n_boot: Annotated[int, typer.Option(help="Bootstrap resamples per interval.")] = 2000,
    seed: Annotated[int, typer.Option(help="Seed of the resampling.")] = 0,
    min_prompts: Annotated[
        int, typer.Option(help="Groups with fewer prompts get no interval.")
    ] = 10,
) -> None:
    """Recompute metrics.json, groups.csv and prompts.csv from records.jsonl alone."""
    if not (run_dir / "records.jsonl").is_file():
        raise UserInputError(f"{run_dir} has no records.jsonl; give a run directory")
    _check_reference_language(run_dir, reference_language)
    write_metrics(
        run_dir,
        reference_language=reference_language or "en",
        reference=reference,
        n_boot=n_boot,
        seed=seed,
        min_prompts=min_prompts,
    )


def _ensure_metrics(run_dir: Path) -> None:
    """Compute metrics.json from records.jsonl when a run directory lacks it."""
    if (run_dir / "metrics.json").is_file():
        return
    if not (run_dir / "records.jsonl").is_file():
        raise UserInputError(
            f"{run_dir} has neither metrics.json nor records.jsonl; give a run directory"
        )
    typer.echo(f"{run_dir} has no metrics.json: computing it first (as `specaudit metrics`)")
    write_metrics(run_dir)


@app.command()
@errors_to_exit
def report(
    run_dir: Annotated[
        Path, typer.Argument(help="A run directory (the after run with --compare).")
    ],
    compare: Annotated[
        Path | None,
        typer.Option(help="A run to compare against (before): a before/after report."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Report file. Default: RUN_DIR/report.html.")
    ] = None,
) -> None:
    """Write report.html: a self-contained HTML fairness report that opens offline."""
    for directory in (run_dir, compare):
        if directory is not None:
            if not directory.is_dir():
                raise UserInputError(f"{directory} is not a directory; give a run directory")
            _ensure_metrics(directory)
    write_report(run_dir, compare=compare, out=out)


@app.command()
@errors_to_exit
def gate(
    run_dir: Annotated[Path, typer.Argument(help="A run directory with metrics.json.")],
    policy: Annotated[
        Path, typer.Option(help="Gate policy YAML (example: specaudit/gate/example_policy.yaml).")
    ],
    junit: Annotated[Path | None, typer.Option(help="Write JUnit XML to this file.")] = None,
    summary: Annotated[
        Path | None, typer.Option(help="Write the Markdown summary to this file.")
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(help="A previous release's run: also check per-group speed-up drops."),
    ] = None,
    inconclusive: Annotated[
        str,
        typer.Option(help="Blocking inconclusive checks: block (exit 4), fail (exit 1) or pass."),
    ] = "block",
) -> None:
    """Check a run against a release policy: exit 0 pass, 1 fail, 4 inconclusive."""
    result = _gate(
        run_dir, policy, junit=junit, summary=summary, baseline=baseline, inconclusive=inconclusive
    )
    raise typer.Exit(result.exit_code)


def _gate(run_dir: Path, policy: Path, **options):
    """Check ``run_dir`` against ``policy`` and print the outcome; return the GateResult."""
    from specaudit.gate import format_text, run_gate

    result = run_gate(run_dir, policy, **options)
    typer.echo(format_text(result))
    if result.written:
        typer.echo("gate reports: " + ", ".join(result.written))
    return result


@ngram_app.command("build")
@errors_to_exit
def ngram_build(
    tokenizer: Annotated[
        str, typer.Option(help="The target's tokenizer: hub id, directory or .gguf file.")
    ],
    text: Annotated[
        list[Path],
        typer.Option(
            "--text",
            help="Plain-text file (repeatable; .gz allowed). Blank lines separate documents.",
        ),
    ],
    out: Annotated[Path, typer.Option(help="Output n-gram file.")],
    order: Annotated[int, typer.Option(min=2, help="n: contexts of up to n-1 tokens.")] = 4,
) -> None:
    """Build an n-gram drafter over a target tokenizer's ids from plain text."""
    from specaudit.audit.ngram_build import build_ngram_file

    summary = build_ngram_file(tokenizer, [str(t) for t in text], order=order, out=out)
    typer.echo(f"n-gram drafter: {out} ({summary}); use it with --drafter ngram:{out}")


def _prompt_sources(prompts: list[Path] | None) -> list:
    from specaudit.audit.prompts import builtin_prompt_dir

    return [str(p) for p in prompts] if prompts else [builtin_prompt_dir()]


@prompts_app.command("list")
@errors_to_exit
def prompts_list(
    prompts: Annotated[
        list[Path] | None,
        typer.Option("--prompts", help="Prompt files or directories. Default: built-in sets."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Count prompts per language, task and split."""
    import json

    from specaudit.audit.prompts import count_prompts, load_prompts

    counts = count_prompts(load_prompts(_prompt_sources(prompts)))
    if as_json:
        typer.echo(json.dumps(counts, indent=1, ensure_ascii=False))
        return
    typer.echo(f"{'language':<10}{'task':<14}{'split':<10}{'count':>7}")
    for row in counts:
        typer.echo(f"{row['language']:<10}{row['task']:<14}{row['split']:<10}{row['count']:>7}")


@prompts_app.command("show")
@errors_to_exit
def prompts_show(
    language: Annotated[str, typer.Argument(help="Language code, e.g. sw.")],
    task: Annotated[str, typer.Argument(help="Task, e.g. story.")],
    n: Annotated[int, typer.Option("-n", min=1, help="How many prompts.")] = 3,
    split: Annotated[str | None, typer.Option(help="Only this split.")] = "eval",
    prompts: Annotated[
        list[Path] | None,
        typer.Option("--prompts", help="Prompt files or directories. Default: built-in sets."),
    ] = None,
) -> None:
    """Print a few prompts of one (language, task) group."""
    from specaudit.audit.prompts import load_prompts, select_prompts

    chosen = select_prompts(
        load_prompts(_prompt_sources(prompts)),
        languages=[language],
        tasks=[task],
        split=split,
        n_per_group=n,
    )
    for p in chosen:
        typer.echo(f"--- {p.id} (split {p.split}, item {p.item_id})")
        typer.echo(p.prompt)
        if p.reference:
            typer.echo(f"[reference] {p.reference}")


@prompts_app.command("validate")
def prompts_validate(
    path: Annotated[Path, typer.Argument(help="A JSONL prompt file or a directory of them.")],
) -> None:
    """Check a prompt set and report every problem with its line number (exit 2 if any)."""
    from specaudit.audit.prompts import validate_prompt_file

    problems = validate_prompt_file(path)
    for problem in problems:
        typer.echo(str(problem), err=True)
    if problems:
        typer.echo(f"{len(problems)} problem(s) in {path}", err=True)
        raise typer.Exit(2)
    typer.echo(f"{path}: ok")


def main() -> None:
    """Entry point of the ``specaudit`` console script."""
    app()
