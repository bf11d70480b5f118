"""Shared fixtures: tiny tokenizers and random Llama models built from a config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

CORPUS = [
    "the cat sat on the mat and the dog sat on the log",
    "der Hund sitzt auf dem Teppich und die Katze schläft",
    "le chat dort sur le tapis et le chien mange",
    "el perro come en la cocina y el gato duerme",
    "mbwa anakula jikoni na paka analala",
    "кошка спит на ковре",
    "猫はマットの上に座った",
    "猫坐在垫子上",
]


def make_tokenizer(vocab_size: int = 320):
    """A byte-level BPE tokenizer trained on CORPUS, with bos/eos specials."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS * 4, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>")


def make_model(vocab_size: int, *, layers: int, hidden: int, seed: int, context: int = 256):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=context,
        bos_token_id=0,
        eos_token_id=1,
    )
    model = LlamaForCausalLM(cfg).eval()
    model.generation_config.eos_token_id = 1
    return model


def save_pair_member(path: Path, tokenizer, model) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_dirs(tmp_path_factory) -> dict[str, Path]:
    """Directories with a tiny target, a smaller drafter, and a foreign drafter."""
    root = tmp_path_factory.mktemp("models")
    tok = make_tokenizer()
    vocab = len(tok)
    dirs = {
        "target": save_pair_member(
            root / "target", tok, make_model(vocab, layers=2, hidden=64, seed=0)
        ),
        "drafter": save_pair_member(
            root / "drafter", tok, make_model(vocab, layers=1, hidden=32, seed=1)
        ),
    }
    other = make_tokenizer(vocab_size=290)
    dirs["foreign"] = save_pair_member(
        root / "foreign", other, make_model(len(other), layers=1, hidden=32, seed=2)
    )
    short = make_model(vocab, layers=1, hidden=32, seed=3, context=24)
    dirs["short_context"] = save_pair_member(root / "short", tok, short)
    return dirs


@pytest.fixture()
def prompt_file(tmp_path) -> Path:
    """A small user prompt set: 2 languages x 2 tasks x 2 prompts, parallel item ids."""
    return write_prompt_file(tmp_path / "prompts.jsonl")


def write_prompt_file(path: Path) -> Path:
    """Write the ``prompt_file`` set to ``path`` (for fixtures of a wider scope)."""
    rows = []
    texts = {"en": ["the cat sat", "the dog sat on"], "sw": ["mbwa anakula", "paka analala"]}
    for task in ("translation", "story"):
        for lang, prompts in texts.items():
            for i, text in enumerate(prompts):
                rows.append(
                    {
                        "id": f"{task}-{lang}-{i}",
                        "language": lang,
                        "task": task,
                        "prompt": text,
                        "item_id": f"{task}-{i}",
                        "split": "eval",
                    }
                )
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path
