"""The ``specaudit`` command line: a thin typer layer over the library.

Each command parses typed options, builds a config, calls one library
function and says where the output went. User mistakes become one line on
stderr and exit code 2; runtime failures exit 3.
"""

from __future__ import annotations

import datetime as dt
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
from specaudit.cli_mitigate import mitigate
from specaudit.errors import UserInputError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=False,
    help="Audit speculative decoding for disparate speed-ups across languages and tasks.",
)
ngram_app = typer.Typer(add_completion=False, help="Build n-gram drafters.")
app.add_typer(ngram_app, name="ngram")
app.command()(mitigate)
prompts_app = typer.Typer(add_completion=False, help="Inspect and validate prompt sets.")
app.add_typer(prompts_app, name="prompts")


@app.command()
@errors_to_exit
def run(
    target: Annotated[
        str | None, typer.Option(help="Target model: hub id, directory or .gguf file.")
    ] = None,
    drafter: Annotated[
        str | None, typer.Option(help="Drafter: hub id, directory, .gguf file or ngram:PATH.")
    ] = None,
    prompts: Annotated[
        list[Path] | None,
        typer.Option(
            "--prompts", help="Prompt JSONL file or directory (repeatable). Default: built-in sets."
        ),
    ] = None,
    languages: Annotated[
        str | None, typer.Option(help="Comma-separated language codes, e.g. en,de,sw.")
    ] = None,
    tasks: Annotated[
        str | None, typer.Option(help="Comma-separated tasks, e.g. translation,story.")
    ] = None,
    split: Annotated[
        str | None,
        typer.Option(help="Prompt split to audit (rows without a split are always kept)."),
    ] = None,
    n_prompts: Annotated[
        int | None, typer.Option("--n-prompts", help="Prompts per (language, task) group.")
    ] = None,
    gamma: Annotated[int | None, typer.Option(help="Draft length per step.")] = None,
    mode: Annotated[str | None, typer.Option(help="greedy or sampling.")] = None,
    temperature: Annotated[float | None, typer.Option(help="Sampling temperature.")] = None,
    top_k: Annotated[int | None, typer.Option("--top-k", help="Sampling top-k (0: off).")] = None,
    top_p: Annotated[
        float | None, typer.Option("--top-p", help="Sampling top-p (1.0: off).")
    ] = None,
    max_new_tokens: Annotated[
        int | None, typer.Option("--max-new-tokens", help="New tokens per prompt.")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Run seed.")] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu, cuda or cuda:N.")] = None,
    dtype: Annotated[str | None, typer.Option(help="auto, float32, bfloat16 or float16.")] = None,
    threads: Annotated[int | None, typer.Option(help="CPU threads for torch.")] = None,
    revision: Annotated[
        str | None, typer.Option(help="Target revision (branch, tag or commit).")
    ] = None,
    drafter_revision: Annotated[
        str | None, typer.Option("--drafter-revision", help="Drafter revision.")
    ] = None,
    trust_remote_code: Annotated[
        bool | None,
        typer.Option(
            "--trust-remote-code/--no-trust-remote-code",
            help="Run model code shipped with checkpoints (off by default).",
        ),
    ] = None,
    allow_pickle: Annotated[
        bool | None,
        typer.Option(
            "--allow-pickle/--no-allow-pickle",
            help="Accept pickled .bin weights (safetensors only by default).",
        ),
    ] = None,
    chat_template: Annotated[
        bool | None,
        typer.Option(
            "--chat-template/--no-chat-template",
            help="Wrap prompts with the target's chat template.",
        ),
    ] = None,
    system_prompt: Annotated[
        str | None, typer.Option("--system-prompt", help="System message (with --chat-template).")
    ] = None,
    warmup: Annotated[int | None, typer.Option(help="Untimed warm-up decodes.")] = None,
    repeats: Annotated[
        int | None,
        typer.Option(help="Time every prompt this many times; each decode keeps the median."),
    ] = None,
    retime: Annotated[
        int | None,
        typer.Option(help="Re-time a timing outlier up to this many times (0: never)."),
    ] = None,
    backend: Annotated[
        str | None,
        typer.Option(help="Who decodes: native, vllm (in-process) or openai (a running server)."),
    ] = None,
    speculative_config: Annotated[
        str | None,
        typer.Option(
            "--speculative-config", help="vLLM speculative_config as JSON, passed through."
        ),
    ] = None,
    spec_method: Annotated[
        str | None,
        typer.Option(
            "--spec-method",
            help="Shorthand for --speculative-config: draft_model, ngram, eagle, eagle3, "
            "mtp or suffix (with --drafter and --gamma).",
        ),
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option(help="Requests in flight at once (vllm and openai backends).")
    ] = None,
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="openai backend: the speculative server.")
    ] = None,
    baseline_url: Annotated[
        str | None,
        typer.Option("--baseline-url", help="openai backend: a plain server for the baseline."),
    ] = None,
    request_timeout: Annotated[
        float | None,
        typer.Option("--request-timeout", help="openai backend: seconds per request."),
    ] = None,
    retries: Annotated[
        int | None, typer.Option(help="openai backend: retries of a failed request.")
    ] = None,
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
) -> None:
    """Audit a drafter-target pair; with no arguments, the built-in demo pair."""
    from specaudit.audit.backends.spec_config import parse_json_option
    from specaudit.audit.config import load_config
    from specaudit.audit.runner import AuditInterrupted, run_audit
    from specaudit.audit.shard import SHARD_STRATEGIES, ShardSpec

    overrides = {
        "target": target,
        "drafter": drafter,
        "prompts": [str(p) for p in prompts] if prompts else None,
        "languages": csv_list(languages),
        "tasks": csv_list(tasks),
        "split": split,
        "n_prompts": n_prompts,
        "gamma": gamma,
        "mode": mode,
        "temperature": temperature,
        "top_k": top_k,
        "top_p": top_p,
        "max_new_tokens": max_new_tokens,
        "seed": seed,
        "device": device,
        "dtype": dtype,
        "threads": threads,
        "revision": revision,
        "drafter_revision": drafter_revision,
        "trust_remote_code": trust_remote_code,
        "allow_pickle": allow_pickle,
        "chat_template": chat_template,
        "system_prompt": system_prompt,
        "warmup": warmup,
        "repeats": repeats,
        "retime": retime,
        "backend": backend,
        "speculative_config": parse_json_option(speculative_config, "--speculative-config"),
        "spec_method": spec_method,
        "concurrency": concurrency,
        "base_url": base_url,
        "baseline_url": baseline_url,
        "request_timeout": request_timeout,
        "retries": retries,
    }
    cfg = load_config(config, overrides)
    if cfg.backend != "native" and shard is not None:
        raise UserInputError(f"--shard works with the native backend only, not {cfg.backend}")
    shard_spec = ShardSpec.parse(shard) if shard is not None else None
    if shard_by not in SHARD_STRATEGIES:
        raise UserInputError(f"--shard-by {shard_by!r} is not valid; use group or prompt")
    if gate_policy is not None:  # a bad policy must not cost a whole audit
        from specaudit.gate.policy import load_policy

        load_policy(gate_policy)
    if out is None:
        if resume:
            raise typer.BadParameter("--resume needs --out naming the run to continue")
        out = Path("runs") / f"run-{dt.datetime.now():%Y%m%d-%H%M%S}"
    try:
        if cfg.backend == "native":
            summary = run_audit(
                cfg, out, resume=resume, progress=progress, shard=shard_spec, shard_by=shard_by
            )
        else:
            summary = _run_backend(cfg, out, resume=resume, progress=progress)
    except AuditInterrupted as stop:
        typer.echo(
            f"interrupted: {stop.done}/{stop.total} prompts saved in {stop.run_dir}; "
            f"continue with --out {stop.run_dir} --resume",
            err=True,
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if not summary.complete:
        _echo_shard_done(summary, by_hand=shard_spec is not None)
        return
    _echo_merged(summary.merged)
    n_prompts = summary.merged.n_records if summary.merged else summary.n_prompts
    typer.echo(
        f"records: {summary.run_dir / 'records.jsonl'} "
        f"({n_prompts} prompts, {summary.n_new} decoded now)"
    )
    write_metrics(summary.run_dir)
    if summary.n_not_lossless and cfg.backend != "native":
        # Batched serving may break near-ties differently (docs/serving.md): a note, not a bug.
        typer.echo(
            f"note: {summary.n_not_lossless}/{summary.n_prompts} greedy outputs differ between "
            "the speculative and the plain engine (see 'identical outputs' in the metrics)",
            err=True,
        )
    elif summary.n_not_lossless:
        typer.echo(
            f"WARNING: {summary.n_not_lossless} greedy prompts were NOT lossless "
            "(speculative output differs from plain decoding)",
            err=True,
        )
    gate_result = _gate(summary.run_dir, gate_policy) if gate_policy is not None else None
    write_report(summary.run_dir, gate=gate_result)
    if gate_result is not None:
        raise typer.Exit(gate_result.exit_code)


def _run_backend(cfg, out: Path, *, resume: bool, progress: bool):
    """Audit through a serving backend (docs/serving.md)."""
    from specaudit.audit.backends.run import run_backend_audit

    if cfg.backend == "vllm":
        from specaudit.audit.backends.vllm_engine import VLLMBackend as make
    else:
        from specaudit.audit.backends.openai_client import OpenAIBackend as make
    return run_backend_audit(cfg, out, make, resume=resume, progress=progress)


def _echo_shard_done(summary, *, by_hand: bool) -> None:
    """Say where a shard's records went and who merges them."""
    shard = summary.shard
    typer.echo(
        f"shard {shard}: {summary.n_prompts} prompts in "
        f"{summary.run_dir / f'records.rank-{shard.index}.jsonl'} ({summary.n_new} decoded now)"
    )
    if summary.n_not_lossless:
        typer.echo(f"WARNING: {summary.n_not_lossless} greedy prompts were NOT lossless", err=True)
    if by_hand:
        typer.echo(f"when every shard has finished: specaudit merge {summary.run_dir}")
    else:
        typer.echo("rank 0 merges the shards and writes metrics and the report")


def _echo_merged(merged) -> None:
    """Say what a merge of shard files did."""
    if merged is None:
        return
    typer.echo(
        f"merged {merged.n_shard_files} shard file{'s' * (merged.n_shard_files != 1)} "
        f"into {merged.path} "
        f"({merged.n_records} prompts"
        + (f"; dropped {merged.n_duplicates} duplicate copies" if merged.n_duplicates else "")
        + ")"
    )


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

    if gate_policy is not None:  # a bad policy must fail before the merge, not after
        from specaudit.gate.policy import load_policy

        load_policy(gate_policy)
    directory = RunDir(run_dir)
    plan = directory.read_plan()
    if plan is None:
        raise UserInputError(
            f"{run_dir} has no shards.json: not a sharded run (run it with --shard K/N)"
        )
    _echo_merged(directory.merge(list(plan.ids)))
    write_metrics(run_dir)
    gate_result = _gate(run_dir, gate_policy) if gate_policy is not None else None
    write_report(run_dir, gate=gate_result)
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
