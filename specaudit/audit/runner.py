"""Run an audit: load the pair, decode every prompt both ways, write the run directory."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from tqdm.auto import tqdm

from specaudit.audit.attempts import (
    choose_median,
    derive_seed,
    order_for,
    same_work,
    time_prompt,
    warm_up,
)
from specaudit.audit.config import RunConfig, check_model_pair
from specaudit.audit.device import resolve_dtype, resolve_threads
from specaudit.audit.drafters.base import Drafter
from specaudit.audit.drafters.neural import NeuralDrafter
from specaudit.audit.drafters.ngram import NGramDrafter
from specaudit.audit.engine import SpeculativeEngine
from specaudit.audit.environment import collect_environment, device_label
from specaudit.audit.launch import Placement, resolve_placement
from specaudit.audit.loading import (
    NGRAM_PREFIX,
    LoadedModel,
    check_same_vocabulary,
    context_length,
    eos_token_ids,
    load_causal_lm,
    load_tokenizer,
    vocab_fingerprint,
)
from specaudit.audit.ngram import NGramModel
from specaudit.audit.prompts import Prompt, builtin_prompt_dir, load_prompts, select_prompts
from specaudit.audit.retime import RetimeSummary, retime_outliers
from specaudit.audit.routed import Setting, build_settings, read_routing
from specaudit.audit.rundir import MergeSummary, RunDir
from specaudit.audit.sampling import Decoding
from specaudit.audit.shard import ShardPlan, ShardSpec, Strategy
from specaudit.errors import UserInputError
from specaudit.records import PromptRecord, apply_choice

__all__ = [
    "AuditInterrupted",
    "RunSummary",
    "builtin_pair",
    "check_lengths",
    "config_prompts",
    "derive_seed",
    "run_audit",
]


@dataclass(frozen=True)
class RunSummary:
    """What a finished (or resumed) run did."""

    run_dir: Path
    n_prompts: int  #: prompts of this process (its shard's, if sharded), done earlier or now
    n_new: int  #: prompts decoded by this invocation
    n_not_lossless: int  #: greedy prompts whose outputs differed (a bug if > 0)
    shard: ShardSpec | None = None  #: this process's shard; None for an ordinary run
    merged: MergeSummary | None = None  #: the merge this process did, if any
    retimed: RetimeSummary | None = None  #: what the re-timing pass did

    @property
    def complete(self) -> bool:
        """Whether ``records.jsonl`` now holds the whole run (metrics can follow)."""
        return self.shard is None or self.merged is not None


class AuditInterrupted(Exception):
    """Ctrl-C stopped the run; finished prompts are saved and resumable."""

    def __init__(self, run_dir: Path, done: int, total: int) -> None:
        super().__init__(f"interrupted after {done}/{total} prompts")
        self.run_dir, self.done, self.total = run_dir, done, total


def builtin_pair() -> tuple[Path, Path]:
    """Paths of the built-in demo target and drafter."""
    from importlib import resources

    root = Path(str(resources.files("specaudit") / "data" / "models"))
    return root / "target", root / "drafter"


def _resolve_models(config: RunConfig) -> tuple[str, str | None]:
    if config.routing is not None:  # the routing file names the drafters
        if config.target is not None:
            return config.target, None
        target, _ = builtin_pair()
        if not target.exists():
            raise UserInputError("this install has no built-in demo pair; pass --target")
        return str(target), None
    check_model_pair(config)
    if config.target is not None:
        return config.target, config.drafter
    target, drafter = builtin_pair()
    if not target.exists():
        raise UserInputError("this install has no built-in demo pair; pass --target and --drafter")
    return str(target), str(drafter)


def _load_drafter(
    spec: str | None, config: RunConfig, target: LoadedModel, device, dtype
) -> tuple[Drafter, dict]:
    vocab_size = int(target.model.config.get_text_config().vocab_size)
    if spec is None:  # a routing file's null: the built-in drafter
        drafter = builtin_pair()[1]
        if config.target is not None or not drafter.exists():
            raise UserInputError(
                "the routing file gives a drafter as null (the built-in drafter), which "
                "only pairs with the built-in target; give its path or hub id"
            )
        spec = str(drafter)
    if spec.startswith(NGRAM_PREFIX):
        path = Path(spec[len(NGRAM_PREFIX) :])
        if not path.is_file():
            raise UserInputError(
                f"n-gram drafter file {path} does not exist; build one with `specaudit ngram build`"
            )
        try:
            model = NGramModel.load(path)
        except ValueError as err:
            raise UserInputError(str(err)) from None
        if model.tokenizer_fingerprint != vocab_fingerprint(target.tokenizer):
            raise UserInputError(
                f"n-gram drafter {path} was built with another tokenizer than the target's; "
                "rebuild it with `specaudit ngram build --tokenizer <target>`"
            )
        drafter = NGramDrafter(model, vocab_size=vocab_size, device=device)
        return drafter, {"spec": spec, **drafter.describe()}
    # Compare vocabularies before spending time and memory on the weights.
    tokenizer = load_tokenizer(
        spec, revision=config.drafter_revision, trust_remote_code=config.trust_remote_code
    )
    check_same_vocabulary(target.tokenizer, tokenizer)
    loaded = load_causal_lm(
        spec,
        device=device,
        dtype=dtype,
        revision=config.drafter_revision,
        trust_remote_code=config.trust_remote_code,
        allow_pickle=config.allow_pickle,
        tokenizer=tokenizer,
    )
    return NeuralDrafter(loaded.model, vocab_size=vocab_size), loaded.info


def encode(tokenizer, prompt: Prompt, config: RunConfig) -> list[int]:
    """Token ids fed to the models: the raw prompt, or the chat-templated one."""
    if not config.chat_template:
        return list(tokenizer(prompt.prompt, add_special_tokens=True)["input_ids"])
    if not getattr(tokenizer, "chat_template", None):
        raise UserInputError("--chat-template: the target's tokenizer has no chat template")
    messages = [{"role": "user", "content": prompt.prompt}]
    if config.system_prompt is not None:
        messages.insert(0, {"role": "system", "content": config.system_prompt})
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    if hasattr(ids, "keys"):  # transformers 5 returns a BatchEncoding
        ids = ids["input_ids"]
    return list(ids)


def config_prompts(config: RunConfig) -> list[Prompt]:
    """Return the prompts a config audits: its files (or the built-in sets), selected.

    Raises
    ------
    UserInputError
        For unreadable prompt files or a selection that matches nothing.
    """
    return select_prompts(
        load_prompts(config.prompts or [builtin_prompt_dir()]),
        languages=config.languages,
        tasks=config.tasks,
        split=config.split,
        n_per_group=config.n_prompts,
    )


def check_lengths(
    encoded: list[tuple[Prompt, list[int]]], limits: dict[str, int | None], max_new_tokens: int
) -> None:
    """Refuse a prompt that encodes to no tokens, or that overflows a model's context.

    Raises
    ------
    UserInputError
        Naming the prompt, and what to shorten or lower.
    """
    for prompt, ids in encoded:
        if not ids:
            raise UserInputError(f"prompt {prompt.id!r} encodes to no tokens")
        for who, limit in limits.items():
            if limit is not None and len(ids) + max_new_tokens > limit:
                raise UserInputError(
                    f"prompt {prompt.id!r} is {len(ids)} tokens; with --max-new-tokens "
                    f"{max_new_tokens} it needs {len(ids) + max_new_tokens} positions but the "
                    f"{who}'s context is {limit}; shorten the prompt or lower --max-new-tokens"
                )


def _decode_prompt(
    engine: SpeculativeEngine,
    decoding: Decoding,
    config: RunConfig,
    prompt: Prompt,
    ids: list[int],
    index: int,
    device,
    tokenizer,
    setting: Setting | None = None,
) -> PromptRecord:
    """Decode one prompt both ways ``config.repeats`` times and build its record.

    ``setting`` (routed runs) names the drafter and gamma the record carries.

    Each decode's chosen timing is the median over the repeats (see
    :func:`~specaudit.audit.attempts.choose_median`); every attempt stays in
    the record.
    """
    runs = []
    for attempt in range(config.repeats):
        runs.append(
            time_prompt(
                engine,
                decoding,
                seed=config.seed,
                prompt_id=prompt.id,
                ids=ids,
                max_new_tokens=config.max_new_tokens,
                order=order_for(index, attempt),
                reason="initial" if attempt == 0 else "repeat",
                device=device,
                timing=config.timing,
            )
        )
    first = runs[0]
    spec, base = first.spec, first.plain
    usable = [same_work(first, r) for r in runs]
    attempts = [replace(r.attempt, reproduced=ok) for r, ok in zip(runs, usable, strict=True)]
    lossless = spec.output_ids == base.output_ids if decoding.greedy else None
    text = tokenizer.decode(spec.output_ids, skip_special_tokens=True)
    record = PromptRecord(
        **prompt.record_fields(),
        prompt_ids=ids,
        output_ids=spec.output_ids,
        output_text=text,
        stop_reason=spec.stop_reason,
        steps=spec.steps,
        prefill_time_s=spec.prefill_time_s,
        spec_time_s=spec.total_time_s,
        baseline_output_ids=base.output_ids,
        baseline_time_s=base.total_time_s,
        baseline_prefill_time_s=base.prefill_time_s,
        lossless=lossless,
        draft_forward_s=0.0,
        target_forward_s=0.0,
        c=0.0,
        n_draft_forwards=spec.n_draft_forwards,
        forward_time_s=spec.forward_time_s,
        output_chars=len(text),
        prompt_chars=len(prompt.prompt),
        seed=derive_seed(config.seed, prompt.id, "spec"),
        device_name=device_label(device),
        drafter=setting.drafter if setting is not None else None,
        gamma=setting.gamma if setting is not None else None,
        timing_attempts=attempts,
    )
    return apply_choice(
        record,
        plain=choose_median([r.attempt.plain_time_s for r in runs], usable),
        spec=choose_median([r.attempt.spec_time_s for r in runs], usable),
    )


def run_audit(
    config: RunConfig,
    out: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    shard: ShardSpec | None = None,
    shard_by: Strategy = "group",
    poll_s: float = 1.0,
) -> RunSummary:
    """Audit a drafter-target pair over a prompt selection.

    Everything that can be checked is checked before the first decode: the
    device, the prompts, the models, their shared vocabulary and every
    prompt's length against both contexts.

    ``config.threads`` sets torch's (process-wide) thread count for the run
    only; the caller's is restored afterwards. Left unset, a CPU run uses
    all cores but one (:func:`specaudit.audit.device.resolve_threads`).

    Under ``accelerate launch`` or ``torchrun`` (or with ``shard``), this
    process decodes only its shard of the prompts (see
    :mod:`specaudit.audit.shard`) into ``records.rank-K.jsonl``. Under a
    launcher, rank 0 then waits for the other shards and merges them into
    ``records.jsonl`` in prompt order; ``--shard`` processes leave the merge
    to ``specaudit merge``.

    Parameters
    ----------
    config : RunConfig
        The resolved configuration.
    out : path
        Run directory (see :class:`specaudit.audit.rundir.RunDir`).
    resume : bool
        Continue a run in ``out`` without redoing finished prompts.
    progress : bool
        Show a progress bar (on the first process of each machine only).
    shard : ShardSpec or None
        Decode only this shard, without a launcher (e.g. a Slurm array task).
    shard_by : {"group", "prompt"}
        Deal whole (language, task) groups to shards (default), or prompts.
    poll_s : float
        How often rank 0 looks at the other shards while it waits.

    Raises
    ------
    UserInputError
        For any bad input; nothing is decoded then.
    AuditInterrupted
        On Ctrl-C, after the finished prompts are safely on disk.
    """
    # torch's thread count is process-wide: give the caller back its own.
    previous = torch.get_num_threads()
    try:
        return _audit(
            config,
            out,
            resume=resume,
            progress=progress,
            shard=shard,
            shard_by=shard_by,
            poll_s=poll_s,
        )
    finally:
        torch.set_num_threads(previous)


def _audit(
    config: RunConfig,
    out: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    shard: ShardSpec | None = None,
    shard_by: Strategy = "group",
    poll_s: float = 1.0,
) -> RunSummary:
    placement = resolve_placement(config.device, shard)
    device = placement.device
    dtype = resolve_dtype(config.dtype, device)
    torch.set_num_threads(resolve_threads(config.threads, device))

    selection = config_prompts(config)

    # A bad routing file must fail before any model is loaded.
    routing = read_routing(config.routing, (p.group for p in selection)) if config.routing else None
    target_spec, drafter_spec = _resolve_models(config)
    target = load_causal_lm(
        target_spec,
        device=device,
        dtype=dtype,
        revision=config.revision,
        trust_remote_code=config.trust_remote_code,
        allow_pickle=config.allow_pickle,
    )
    eos_ids = eos_token_ids(target.model, target.tokenizer)
    settings: dict[str, Setting] | None = None
    if routing is not None:
        settings, routed_facts = build_settings(
            *routing,
            lambda spec: _load_drafter(spec, config, target, device, dtype),
            lambda d, g: _engine(target, d, g, eos_ids, config),
            vocab_size=int(target.model.config.get_text_config().vocab_size),
            device=device,
        )
        drafter_info = {"spec": f"routing:{config.routing}", "routed": ", ".join(routed_facts)}
    else:
        drafter, drafter_info = _load_drafter(drafter_spec, config, target, device, dtype)
    # Every shard checks every prompt, so bad input stops all of them alike.
    encoded = [(p, encode(target.tokenizer, p, config)) for p in selection]
    limit = context_length(target.model)
    if settings is None:
        check_lengths(
            encoded, {"target": limit, "drafter": drafter.context_length}, config.max_new_tokens
        )
    else:  # each prompt against its own group's drafter
        for setting in dict.fromkeys(settings.values()):
            check_lengths(
                [(p, ids) for p, ids in encoded if settings[_key(p)] is setting],
                {"target": limit, "drafter": setting.engine.drafter.context_length},
                config.max_new_tokens,
            )

    run_dir, plan = _open_run_dir(out, config, placement, selection, shard_by, resume=resume)
    done = run_dir.start(
        config.model_dump(mode="json"),
        resume=resume,
        defaults=RunConfig().model_dump(mode="json"),
    )
    if plan is not None:
        run_dir.write_plan(plan)
    environment = collect_environment(device=device, dtype=dtype, seed=config.seed)
    environment["models"] = {"target": target.info, "drafter": drafter_info}
    if routing is not None:  # each routed drafter under its own role
        environment["models"].update({f"drafter {k}": v for k, v in routed_facts.items()})
    if placement.shard is not None:
        environment["shard"] = {
            "index": placement.shard.index,
            "count": placement.shard.count,
            "by": shard_by,
            "launcher": "accelerate/torchrun" if placement.launched else "--shard",
        }
    run_dir.write_environment(environment)
    if config.routing is not None:  # the report compares its predictions with the run
        (run_dir.path / "routing.yaml").write_text(
            Path(config.routing).read_text(encoding="utf-8"), encoding="utf-8"
        )

    # The global index i keeps each prompt's decode order (see _decode_prompt)
    # the same as in a single-process run.
    mine = [
        (i, p, ids)
        for i, (p, ids) in enumerate(encoded)
        if plan is None or plan.shards[i] == placement.shard.index
    ]
    todo = [(i, p, ids) for i, p, ids in mine if p.id not in done]
    decoding = Decoding(config.mode, config.temperature, config.top_k, config.top_p)
    if settings is None:
        engine = _engine(target, drafter, config.gamma, eos_ids, config)
        engines = None
    else:
        engine = next(iter(settings.values())).engine
        engines = {p.id: settings[_key(p)].engine for _, p, _ in mine}

    def warm(e: SpeculativeEngine, ids: list[int]) -> None:
        warm_up(e, decoding, ids, rounds=config.warmup, max_new_tokens=config.max_new_tokens)

    if todo:
        for e in dict.fromkeys(engines.values()) if engines else [engine]:
            warm(e, todo[0][2])
    show = progress and (placement.shard is None or _is_local_main())
    n_new, n_not_lossless = _decode_all(
        engine,
        decoding,
        config,
        todo,
        run_dir,
        device,
        target.tokenizer,
        total=len(mine),
        progress=show,
        settings=settings,
    )

    retimed = retime_outliers(
        engine,
        decoding,
        run_dir,
        {p.id: (i, ids) for i, p, ids in mine},
        seed=config.seed,
        max_new_tokens=config.max_new_tokens,
        max_attempts=config.retime,
        device=device,
        timing=config.timing,
        report=tqdm.write if show else _silent,
        before_first=(lambda: None) if todo else (lambda: warm(engine, mine[0][2])),
        engines=engines,
    )

    if run_dir.shard is not None:
        run_dir.mark_finished()
    merged = None
    if placement.merges and (plan is not None or run_dir.shard_files()):
        if placement.launched:
            _wait_for_shards(run_dir, plan, poll_s=poll_s)
        merged = run_dir.merge([p.id for p in selection])
    return RunSummary(
        run_dir.path,
        len(mine),
        n_new,
        n_not_lossless,
        shard=placement.shard,
        merged=merged,
        retimed=retimed,
    )


def _engine(
    target: LoadedModel, drafter: Drafter, gamma: int, eos_ids: set[int], config: RunConfig
) -> SpeculativeEngine:
    return SpeculativeEngine(
        target.model,
        drafter,
        gamma=gamma,
        eos_ids=eos_ids,
        divergence_temperature=config.divergence_temperature,
        first_token=config.first_token,
    )


def _key(prompt: Prompt) -> str:
    """Return a prompt's group as routing files name it."""
    return f"{prompt.language}/{prompt.task}"


def _silent(_: str) -> None:
    """Swallow progress lines (no progress display)."""


def _open_run_dir(
    out: str | Path,
    config: RunConfig,
    placement: Placement,
    selection: list[Prompt],
    shard_by: Strategy,
    *,
    resume: bool,
) -> tuple[RunDir, ShardPlan | None]:
    """Return this process's view of the run directory, and the plan if sharded."""
    if placement.shard is None:
        return RunDir(out), None
    # The plan depends on the prompt selection alone, never on what is done:
    # processes read the directory at different moments, and a plan built
    # from what each saw could hand one prompt to two of them.
    plan = ShardPlan.build(
        [p.id for p in selection],
        [p.group for p in selection],
        placement.shard.count,
        by=shard_by,
    )
    return RunDir(out, shard=placement.shard.index), plan


def _is_local_main() -> bool:
    """Whether this is the first process on its machine (it alone shows progress)."""
    from accelerate import PartialState

    return PartialState().is_local_main_process


def _decode_all(
    engine: SpeculativeEngine,
    decoding: Decoding,
    config: RunConfig,
    todo: list[tuple[int, Prompt, list[int]]],
    run_dir: RunDir,
    device,
    tokenizer,
    *,
    total: int,
    progress: bool,
    settings: dict[str, Setting] | None = None,
) -> tuple[int, int]:
    """Decode and append each prompt of ``todo``; return (new, not lossless) counts.

    ``settings`` (routed runs) gives each group's engine in place of ``engine``.
    """
    n_not_lossless, n_new = 0, 0
    bar = tqdm(
        total=total,
        initial=total - len(todo),
        disable=not progress,
        unit="prompt",
        dynamic_ncols=True,
    )
    tokens, spec_seconds = 0, 0.0
    try:
        for index, prompt, ids in todo:
            setting = settings[_key(prompt)] if settings is not None else None
            record = _decode_prompt(
                setting.engine if setting is not None else engine,
                decoding,
                config,
                prompt,
                ids,
                index,
                device,
                tokenizer,
                setting,
            )
            run_dir.append(record)
            n_new += 1
            tokens += len(record.output_ids)
            spec_seconds += record.spec_time_s
            if record.lossless is False:
                n_not_lossless += 1
                tqdm.write(
                    f"NOT LOSSLESS: prompt {prompt.id!r}: speculative output differs from "
                    "plain greedy decoding (a bug or a numerical near-tie; see records.jsonl)"
                )
            bar.set_postfix_str(f"{tokens / spec_seconds:.1f} tok/s spec", refresh=False)
            bar.update()
    except KeyboardInterrupt:
        bar.close()
        raise AuditInterrupted(run_dir.path, total - len(todo) + n_new, total) from None
    bar.close()
    return n_new, n_not_lossless


def _wait_for_shards(run_dir: RunDir, plan: ShardPlan, *, poll_s: float) -> None:
    """Block until every prompt of ``plan`` is on disk and every rank has marked its finish.

    Rank 0 waits on the files rather than on a collective such as
    ``PartialState.wait_for_everyone()``: shards often finish far apart
    (groups differ in length, ranks in hardware), and a barrier gives up after
    the process group's timeout (30 minutes by default), killing a healthy
    run. The files are what gets merged anyway, so this waits for exactly
    that. If another rank dies, torchrun (behind ``accelerate launch``) stops
    this one too, so the wait cannot hang on a dead rank.
    """
    said = None
    while True:
        left = plan.missing(run_dir.done_ids())
        # A rank whose prompts are all on disk may still be re-timing them; its
        # finish marker comes after that (and after its environment file).
        busy = set(range(plan.count)) - set(run_dir.shard_files("finished"))
        if not left and not busy:
            return
        waiting = sorted(set(left) | busy)
        if waiting != said:
            n_left = sum(map(len, left.values()))
            tqdm.write(
                f"rank 0: waiting for shard(s) {', '.join(map(str, waiting))} "
                f"({n_left} prompts left)"
            )
            said = waiting
        time.sleep(poll_s)
