"""One mitigation end to end: data, training (or an n-gram build), follow-up audits.

Layout of a mitigation directory ``OUT``::

    OUT/mitigation.json            resolved settings of the last invocation
    OUT/cache/continuations-*.jsonl  target continuations, shared by strategies
    OUT/before/                    audit of the original drafter (held-out prompts)
    OUT/<strategy>/drafter/        the new drafter (HF checkpoint, safetensors)
    OUT/<strategy>/drafter.ngram   ... or the n-gram drafter
    OUT/<strategy>/training.csv    probe figures over training
    OUT/<strategy>/training_card.json, TRAINING_CARD.md
    OUT/<strategy>/audit/          audit of the new drafter (same prompts as before/)

Every stage resumes: cached continuations, training checkpoints and audit
run directories are reused, so a killed ``mitigate`` continues where it stopped.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from specaudit.atomic import write_atomic
from specaudit.audit.config import RunConfig, check_model_pair
from specaudit.audit.device import resolve_device
from specaudit.audit.loading import check_same_vocabulary, load_causal_lm, load_tokenizer
from specaudit.audit.ngram_build import build_ngram_file
from specaudit.audit.prompts import builtin_prompt_dir, load_prompts, select_prompts
from specaudit.audit.runner import builtin_pair, run_audit
from specaudit.errors import UserInputError
from specaudit.mitigation.card import write_training_card
from specaudit.mitigation.config import TRAINED_STRATEGIES, MitigationConfig
from specaudit.mitigation.data import prepare_rows, training_data
from specaudit.mitigation.trainer import TrainingOutcome, train_drafter
from specaudit.mitigation.trainset import KINDS, builtin_text_path, training_prompts

__all__ = ["StrategyResult", "followup_config", "mitigate", "resolve_pair", "run_strategy"]

#: The follow-up audits run on prompts no strategy trained or was probed on.
FOLLOWUP_SPLIT = "heldout"


@dataclass(frozen=True)
class StrategyResult:
    """Where one strategy's outputs are."""

    strategy: str
    drafter: str  #: a drafter spec for ``specaudit run --drafter``
    before: Path  #: audit run directory of the original drafter
    after: Path  #: audit run directory of the new drafter
    outcome: TrainingOutcome | None  #: None for ``ngram``
    card: Path | None
    training_log: Path | None  #: ``training.csv``; None for ``ngram``


def resolve_pair(audit: RunConfig) -> RunConfig:
    """Fill in the built-in demo pair when no target and drafter are given."""
    check_model_pair(audit)
    if audit.target is not None:
        return audit
    target, drafter = builtin_pair()
    return audit.model_copy(update={"target": str(target), "drafter": str(drafter)})


def followup_config(audit: RunConfig) -> RunConfig:
    """Return the audit settings on the held-out split (both tasks unless restricted)."""
    return audit.model_copy(update={"split": FOLLOWUP_SPLIT})


def _languages(audit: RunConfig) -> list[str]:
    """List the follow-up audit's languages, validated against the prompt sets."""
    prompts = load_prompts(audit.prompts or [builtin_prompt_dir()])
    if not any(p.split in (None, FOLLOWUP_SPLIT) for p in prompts):
        raise UserInputError(
            f"the prompt sets have no rows of split {FOLLOWUP_SPLIT!r}: mitigation audits "
            'prompts it never trained on; add such rows (and "train" rows to train on)'
        )
    chosen = select_prompts(
        prompts, languages=audit.languages, tasks=audit.tasks, split=FOLLOWUP_SPLIT, n_per_group=1
    )
    return list(dict.fromkeys(p.language for p in chosen))


def _audit(config: RunConfig, out: Path, log: Callable[[str], None], progress: bool) -> Path:
    summary = run_audit(config, out, resume=True, progress=progress)
    log(f"audit {out}: {summary.n_prompts} prompts ({summary.n_new} decoded now)")
    if summary.n_not_lossless:
        log(f"WARNING: {summary.n_not_lossless} prompts were not lossless in {out}")
    return out


def _export(drafter, tokenizer, dtype: torch.dtype, out: Path) -> None:
    """Save the trained drafter as an HF checkpoint (safetensors), atomically."""
    tmp = out.with_name(out.name + ".tmp")
    drafter.to(dtype).save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    if out.exists():
        import shutil

        shutil.rmtree(out)
    tmp.rename(out)


def _train(
    audit: RunConfig,
    config: MitigationConfig,
    out: Path,
    root: Path,
    languages: list[str],
    log: Callable[[str], None],
    progress: bool,
) -> tuple[str, TrainingOutcome, Path]:
    device = resolve_device(audit.device)
    tokenizer = load_tokenizer(
        audit.target, revision=audit.revision, trust_remote_code=audit.trust_remote_code
    )
    drafter_tokenizer = load_tokenizer(
        audit.drafter, revision=audit.drafter_revision, trust_remote_code=audit.trust_remote_code
    )
    check_same_vocabulary(tokenizer, drafter_tokenizer)
    common = {
        "device": device,
        "dtype": torch.float32,
        "trust_remote_code": audit.trust_remote_code,
        "allow_pickle": audit.allow_pickle,
    }
    # Training runs in float32 whatever the audit's dtype: half-precision
    # gradients on CPU are slow and lossy.
    target = load_causal_lm(audit.target, revision=audit.revision, tokenizer=tokenizer, **common)
    drafter = load_causal_lm(
        audit.drafter, revision=audit.drafter_revision, tokenizer=drafter_tokenizer, **common
    )
    saved_dtype = drafter.model.config.dtype or torch.float32
    rows = prepare_rows(
        target, audit, config, languages, root / "cache", log=log, progress=progress
    )
    data = training_data(
        rows, config, languages, target, root / "cache", log=log, progress=progress
    )
    log(
        f"{config.strategy}: training on {sum(map(len, data.train))} rows in "
        f"{len(data.groups)} groups, at most {config.steps} steps / {config.time_budget:.0f} s"
    )
    outcome = train_drafter(target.model, drafter.model, data, config, out, log=log)
    spec = out / "drafter"
    _export(drafter.model, tokenizer, saved_dtype, spec)
    card = write_training_card(
        out,
        config=config,
        audit=audit,
        outcome=outcome,
        data=data,
        rows=rows,
        drafter_spec=str(spec),
    )
    del target, drafter, data, rows
    gc.collect()
    return str(spec), outcome, card


def _ngram(
    audit: RunConfig,
    config: MitigationConfig,
    out: Path,
    languages: list[str],
    log: Callable[[str], None],
) -> str:
    path = out / "drafter.ngram"
    if not path.is_file():
        texts = [str(builtin_text_path(lang)) for lang in languages]
        summary = build_ngram_file(audit.target, texts, order=config.ngram_order, out=path)
        log(f"ngram: {path} ({summary})")
    return f"ngram:{path}"


def run_strategy(
    audit: RunConfig,
    config: MitigationConfig,
    root: str | Path,
    *,
    languages: list[str] | None = None,
    log: Callable[[str], None] = print,
    progress: bool = True,
) -> StrategyResult:
    """Train (or build) one strategy's drafter and audit it against the original.

    Parameters
    ----------
    audit : RunConfig
        The pair and audit settings (target and drafter resolved); the
        follow-up audits use them on the ``heldout`` split.
    config : MitigationConfig
        The strategy and its training budget.
    root : path
        The mitigation directory (see the module docstring).
    languages : list of str, optional
        The training groups; default: the follow-up audit's languages.
    log : callable
        Receives progress lines.
    progress : bool
        Show progress bars in the audits.
    """
    root = Path(root)
    languages = languages or _languages(audit)
    out = root / config.strategy
    out.mkdir(parents=True, exist_ok=True)
    followup = followup_config(audit)
    before = _audit(followup, root / "before", log, progress)
    if config.strategy == "ngram":
        spec, outcome, card = _ngram(audit, config, out, languages, log), None, None
    else:
        spec, outcome, card = _train(audit, config, out, root, languages, log, progress)
    after = _audit(followup.model_copy(update={"drafter": spec}), out / "audit", log, progress)
    log_path = out / "training.csv" if outcome is not None else None
    return StrategyResult(config.strategy, spec, before, after, outcome, card, log_path)


def mitigate(
    audit: RunConfig,
    configs: list[MitigationConfig],
    root: str | Path,
    *,
    log: Callable[[str], None] = print,
    progress: bool = True,
) -> list[StrategyResult]:
    """Retrain the drafter with each strategy and audit it before and after.

    Strategies run one after another (never two trainings at once). This is
    ``specaudit mitigate``; the CLI adds the metrics and the comparison
    reports of each ``before``/``after`` pair.

    Parameters
    ----------
    audit : RunConfig
        The pair and audit settings (the demo pair when neither model is
        given); the follow-up audits use its settings on the held-out split.
    configs : list of MitigationConfig
        One per strategy (``scdf``, ``balanced``, ``task``, ``mono``, ``ngram``).
    root : path
        The mitigation directory (``mitigation.json``, one folder a strategy).
    log : callable, default print
        Where progress messages go.
    progress : bool, default True
        Show progress bars.

    Returns
    -------
    list of StrategyResult
        Where each strategy's drafter, runs and training card are.

    Raises
    ------
    UserInputError
        For a bad pair or missing training prompts, before any training.
    """
    root = Path(root)
    audit = resolve_pair(audit)
    languages = _languages(audit)
    # Check the training data before the first audit or training step: a
    # missing train split must not surface an hour in. Every trained strategy
    # (``task`` and ``mono`` too) draws the same rows of both kinds, since the
    # probe set spans both; one check per distinct selection suffices.
    selections = {
        (c.n_train, c.n_probe, c.seed) for c in configs if c.strategy in TRAINED_STRATEGIES
    }
    for n_train, n_probe, seed in sorted(selections):
        training_prompts(
            languages,
            kinds=KINDS,
            sources=audit.prompts,
            n_train=n_train,
            n_probe=n_probe,
            seed=seed,
        )
    root.mkdir(parents=True, exist_ok=True)
    settings = {"audit": audit.model_dump(), "strategies": [c.model_dump() for c in configs]}
    write_atomic(root / "mitigation.json", json.dumps(settings, indent=2) + "\n")
    return [
        run_strategy(audit, c, root, languages=languages, log=log, progress=progress)
        for c in configs
    ]
