"""Loading targets and drafters, and refusing pairs that cannot work together.

A model spec is a hub id or local directory (``from_pretrained``), or a path
to a ``.gguf`` file (needs the ``gguf`` extra). A drafter spec may also be
``ngram:PATH``, an n-gram file built by ``specaudit ngram build``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

from specaudit.errors import UserInputError

__all__ = [
    "LoadedModel",
    "check_same_vocabulary",
    "context_length",
    "eos_token_ids",
    "load_causal_lm",
    "load_tokenizer",
    "vocab_fingerprint",
]

NGRAM_PREFIX = "ngram:"


@dataclass
class LoadedModel:
    """A causal LM with its tokenizer and the facts a run records about it."""

    model: object  # transformers PreTrainedModel
    tokenizer: object  # transformers PreTrainedTokenizerBase
    info: dict = field(default_factory=dict)


def _split_gguf(spec: str) -> tuple[str, dict]:
    """``dir/file.gguf`` -> (``dir``, ``{"gguf_file": "file.gguf"}``)."""
    path = Path(spec)
    if path.suffix.lower() != ".gguf":
        return spec, {}
    if not path.is_file():
        raise UserInputError(f"GGUF file {spec} does not exist; check the path")
    try:
        import gguf  # noqa: F401
    except ImportError:
        raise UserInputError(
            f"{spec} is a GGUF file, which needs the gguf extra: pip install 'specaudit[gguf]'"
        ) from None
    return str(path.parent.resolve()), {"gguf_file": path.name}


def _load_error(what: str, spec: str, err: Exception) -> UserInputError:
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return UserInputError(
        f"could not load {what} {spec!r}: {first} (a hub id needs the hub or a cached copy; "
        "otherwise give a local model directory or a .gguf file)"
    )


def load_tokenizer(spec: str, *, revision: str | None = None, trust_remote_code: bool = False):
    """Load the tokenizer of a model spec, with errors as one-line messages."""
    from transformers import AutoTokenizer

    source, extra = _split_gguf(spec)
    try:
        return AutoTokenizer.from_pretrained(
            source, revision=revision, trust_remote_code=trust_remote_code, **extra
        )
    except (OSError, ValueError, KeyError) as err:
        raise _load_error("tokenizer", spec, err) from None


def weights_fingerprint(spec: str) -> str | None:
    """Fingerprint local weights: sha256 over file names, sizes and first MiB.

    Full hashes of multi-GB checkpoints would dominate short audits; this
    still changes when any weight file is replaced or resized.
    """
    path = Path(spec)
    files = (
        [path]
        if path.is_file()
        else sorted(
            p for p in path.glob("*") if p.suffix in {".safetensors", ".bin", ".gguf", ".pt"}
        )
    )
    if not files:
        return None
    h = hashlib.sha256()
    for f in files:
        h.update(f"{f.name}:{f.stat().st_size}:".encode())
        with f.open("rb") as fh:
            h.update(fh.read(1 << 20))
    return "sha256-head:" + h.hexdigest()[:16]


def load_causal_lm(
    spec: str,
    *,
    device: torch.device,
    dtype: torch.dtype,
    revision: str | None = None,
    trust_remote_code: bool = False,
    allow_pickle: bool = False,
    tokenizer=None,
) -> LoadedModel:
    """Load a causal LM and its tokenizer onto ``device`` in eval mode.

    Parameters
    ----------
    spec : str
        Hub id, local directory, or ``.gguf`` file.
    device, dtype
        Where and in which precision to place the weights.
    revision : str, optional
        Hub branch, tag or commit.
    trust_remote_code : bool
        Run model code shipped with the checkpoint; off unless asked for.
    allow_pickle : bool
        Accept pickled (``.bin``) weights; safetensors only by default, since
        unpickling runs arbitrary code.
    tokenizer : optional
        The model's tokenizer, when already loaded.
    """
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    # One line per problem on the terminal: no weight-loading bars or notices.
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()

    source, extra = _split_gguf(spec)
    if not extra and not allow_pickle:
        extra["use_safetensors"] = True
    try:
        model = AutoModelForCausalLM.from_pretrained(
            source, revision=revision, trust_remote_code=trust_remote_code, dtype=dtype, **extra
        )
    except (OSError, ValueError, KeyError, ImportError) as err:
        raise _load_error("model", spec, err) from None
    model = model.to(device).eval()
    if tokenizer is None:
        tokenizer = load_tokenizer(spec, revision=revision, trust_remote_code=trust_remote_code)
    info = {
        "spec": spec,
        "class": type(model).__name__,
        "revision": revision,
        "commit": getattr(model.config, "_commit_hash", None),
        "weights_fingerprint": weights_fingerprint(spec) if Path(spec).exists() else None,
        "parameters": sum(p.numel() for p in model.parameters()),
        "vocab_size": int(model.config.get_text_config().vocab_size),
        "context_length": context_length(model),
        "dtype": str(dtype).removeprefix("torch."),
    }
    return LoadedModel(model=model, tokenizer=tokenizer, info=info)


def context_length(model) -> int | None:
    """Return the longest sequence the model's positions cover, if declared."""
    cfg = model.config.get_text_config()
    for name in ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length"):
        value = getattr(cfg, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def vocab_fingerprint(tokenizer) -> str:
    """sha256 of the token -> id map (added tokens included)."""
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
    return hashlib.sha256(json.dumps(vocab, ensure_ascii=False).encode()).hexdigest()


def check_same_vocabulary(target_tokenizer, drafter_tokenizer) -> None:
    """Refuse a drafter whose vocabulary differs from the target's.

    Speculative decoding verifies drafts by token id, so both models must
    map every id to the same string.

    Raises
    ------
    UserInputError
        Naming how many tokens differ and one example.
    """
    tv, dv = target_tokenizer.get_vocab(), drafter_tokenizer.get_vocab()
    if tv == dv:
        return
    differing = sorted(set(tv.items()) ^ set(dv.items()), key=lambda kv: kv[1])
    example = differing[0]
    raise UserInputError(
        f"the drafter's tokenizer differs from the target's ({len(tv)} vs {len(dv)} tokens, "
        f"{len(differing)} token/id pairs differ, e.g. {example[0]!r}: {example[1]}); "
        "speculative decoding needs a shared vocabulary, so pick a drafter from the "
        "target's model family or build an n-gram drafter with the target's tokenizer"
    )


def eos_token_ids(model, tokenizer) -> set[int]:
    """Every id that ends generation: the generation config's and the tokenizer's."""
    ids: set[int] = set()
    for source in (model.generation_config.eos_token_id, tokenizer.eos_token_id):
        if isinstance(source, int):
            ids.add(source)
        elif source:
            ids.update(source)
    return ids
