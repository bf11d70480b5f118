"""Assemble a strategy's training data: cached target continuations, probes, text."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from specaudit.audit.config import RunConfig
from specaudit.audit.loading import LoadedModel, eos_token_ids, vocab_fingerprint
from specaudit.audit.runner import encode
from specaudit.mitigation.batches import collate
from specaudit.mitigation.config import MitigationConfig
from specaudit.mitigation.continuations import (
    TrainingRow,
    generate_continuations,
    load_or_generate,
)
from specaudit.mitigation.probe import make_probe_set
from specaudit.mitigation.soft_labels import SoftLabels, compute_soft_labels, load_or_compute
from specaudit.mitigation.trainer import TrainingData
from specaudit.mitigation.trainset import (
    KINDS,
    builtin_text_path,
    read_paragraphs,
    training_prompts,
)

__all__ = ["PROBE_BATCH", "pad_id", "prepare_rows", "text_streams", "training_data"]

#: Probe rows per forward when evaluating.
PROBE_BATCH = 32


def _with_bar(total: int, desc: str, progress: bool, run: Callable):
    """Call ``run(update)`` under a tqdm bar of ``total`` rows (hidden without progress)."""
    from tqdm.auto import tqdm

    with tqdm(total=total, unit="row", desc=desc, disable=not progress) as bar:
        return run(bar.update)


def pad_id(tokenizer) -> int:
    """Return the tokenizer's pad id, else its end-of-sequence id (always masked out)."""
    for candidate in (tokenizer.pad_token_id, tokenizer.eos_token_id, 0):
        if candidate is not None:
            return int(candidate)
    return 0


def prepare_rows(
    target: LoadedModel,
    audit: RunConfig,
    config: MitigationConfig,
    languages: Sequence[str],
    cache_dir,
    *,
    log: Callable[[str], None] = print,
    progress: bool = True,
) -> list[TrainingRow]:
    """Training and probe rows of every kind, with the target's continuations.

    Generated once per (target, prompts, settings) and cached under
    ``cache_dir``: every strategy of a mitigation reuses the same file.
    """
    prompts = training_prompts(
        languages,
        kinds=KINDS,
        sources=audit.prompts,
        n_train=config.n_train,
        n_probe=config.n_probe,
        seed=config.seed,
    )
    items, too_long = [], 0
    limit = target.info.get("context_length")
    for group in prompts:
        for role, rows in (("probe", group.probe), ("train", group.train)):
            for p in rows:
                ids = encode(target.tokenizer, p, audit)
                if limit is not None and len(ids) + audit.max_new_tokens > limit:
                    too_long += 1  # would not fit the context with its continuation
                    continue
                kind = "translation" if p.task != "text" else "text"
                items.append((p.id, p.language, kind, role, ids))
    if too_long:
        log(f"skipped {too_long} training prompts too long for the target's context ({limit})")
    settings = {
        "target": target.info.get("spec"),
        "weights": target.info.get("weights_fingerprint"),
        "vocabulary": vocab_fingerprint(target.tokenizer),
        "max_new_tokens": audit.max_new_tokens,
        "chat_template": audit.chat_template,
        "system_prompt": audit.system_prompt,
        "prompts": [i[0] for i in items],
    }

    def generate() -> list[TrainingRow]:
        log(f"generating target continuations for {len(items)} prompts (cached for reuse)")
        return _with_bar(
            len(items),
            "continuations",
            progress,
            lambda update: generate_continuations(
                target.model,
                items,
                max_new_tokens=audit.max_new_tokens,
                eos_ids=eos_token_ids(target.model, target.tokenizer),
                pad_id=pad_id(target.tokenizer),
                batch_size=config.generate_batch_size,
                progress=update,
            ),
        )

    rows, path, reused = load_or_generate(cache_dir, settings, generate)
    log(f"continuations: {path} ({'reused' if reused else 'generated'}, {len(rows)} rows)")
    return rows


def text_streams(tokenizer, languages: Sequence[str]) -> list[torch.Tensor]:
    """Per language, the shipped monolingual train text as one token stream."""
    eos = tokenizer.eos_token_id
    streams = []
    for language in languages:
        paragraphs = read_paragraphs(builtin_text_path(language))
        ids = tokenizer(paragraphs, add_special_tokens=False)["input_ids"]
        flat = [t for seq in ids for t in (*seq, *([eos] if eos is not None else []))]
        streams.append(torch.tensor(flat, dtype=torch.long))
    return streams


def training_data(
    rows: Sequence[TrainingRow],
    config: MitigationConfig,
    languages: Sequence[str],
    target: LoadedModel,
    cache_dir,
    *,
    log: Callable[[str], None] = print,
    progress: bool = True,
) -> TrainingData:
    """Build the strategy's view of the rows: its groups, training pools and probes.

    Distillation strategies (``scdf``, ``balanced``, ``task``) weight and
    probe per (language, kind) group, ``"sw/translation"``, the training-side
    counterpart of the audit's (language, task) groups
    (``docs/method.md#groups``); ``task`` keeps the translation groups only.
    They get the target's top-k soft labels on every training row, computed
    once and cached (shared by all strategies). ``mono`` learns from each
    language's text as one token stream, so its groups are languages, and
    its probes pool both kinds of a language.
    """
    if config.strategy == "mono":
        groups = tuple(languages)
    else:
        kinds = ("translation",) if config.strategy == "task" else KINDS
        # A language without text of one kind has no such group, not an empty one.
        present = {r.group for r in rows if r.role == "train"} & {
            r.group for r in rows if r.role == "probe"
        }
        groups = tuple(
            f"{lang}/{kind}" for lang in languages for kind in kinds if f"{lang}/{kind}" in present
        )
    index = {g: i for i, g in enumerate(groups)}
    train = [[r for r in rows if r.role == "train" and g in (r.group, r.language)] for g in groups]
    probe_rows = [
        r for r in rows if r.role == "probe" and (r.group in index or r.language in index)
    ]
    pad = pad_id(target.tokenizer)
    probe = make_probe_set(
        target.model,
        [
            collate(probe_rows[i : i + PROBE_BATCH], index, pad)
            for i in range(0, len(probe_rows), PROBE_BATCH)
        ],
    )
    vocab = int(target.model.config.get_text_config().vocab_size)
    if config.strategy == "mono":
        streams = text_streams(target.tokenizer, groups)
        return TrainingData(groups, train, probe, pad, vocab, streams=streams)
    all_train = [r for r in rows if r.role == "train"]
    settings = {
        "target": target.info.get("spec"),
        "weights": target.info.get("weights_fingerprint"),
        "k": config.soft_label_k,
    }

    def compute() -> SoftLabels:
        log(f"computing the target's top-{config.soft_label_k} soft labels (cached for reuse)")
        return _with_bar(
            len(all_train),
            "soft labels",
            progress,
            lambda update: compute_soft_labels(
                target.model,
                all_train,
                k=config.soft_label_k,
                pad_id=pad,
                batch_size=config.generate_batch_size,
                progress=update,
            ),
        )

    labels, path, reused = load_or_compute(cache_dir, settings, all_train, compute)
    log(
        f"soft labels: {path} ({'reused' if reused else 'computed'}; top-"
        f"{config.soft_label_k} keep {labels.covered_mass:.3f} of the mass)"
    )
    return TrainingData(groups, train, probe, pad, vocab, labels=labels)
