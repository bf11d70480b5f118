"""Train the built-in demo pair: a byte-level BPE tokenizer, a target and a drafter.

Everything comes from the shipped data under ``specaudit/data`` (train splits
only), deterministically from fixed seeds:

- tokenizer: byte-level BPE, 8,192 tokens, trained on text balanced across
  the eleven languages (byte-level, so no language can hit unknown tokens);
- target: Llama-style, ~17M parameters, balanced mixture of monolingual text
  and translation pairs of every language;
- drafter: the same architecture at ~1.5M parameters, trained on an
  English-dominant mixture (DRAFTER_MIXTURE), the way real small drafters are.

Usage (run in the background; each stage checkpoints and resumes)::

    nohup python scripts/train_demo_pair.py all > scripts/.cache/train.log 2>&1 &

Stages: ``tokenizer``, ``target``, ``drafter``, ``distill`` (the drafter is
then fine-tuned on the frozen target's soft labels, same mixture), ``export``,
``all``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import random
import time
from pathlib import Path

import numpy as np
import torch

from specaudit.languages import BUILTIN_LANGUAGES

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "specaudit" / "data"
WORK = ROOT / "scripts" / ".cache" / "train"
OUT = DATA / "models"

VOCAB_SIZE = 8192
SEQ_LEN = 256
SPECIALS = ["<s>", "</s>", "<pad>"]

#: Share of drafter training windows per language (sums to 1).
DRAFTER_MIXTURE = {
    "en": 0.70,
    "de": 0.05,
    "fr": 0.05,
    "es": 0.05,
    "ru": 0.025,
    "zh": 0.025,
    "ja": 0.025,
    "ko": 0.025,
    "ar": 0.02,
    "hi": 0.02,
    "sw": 0.005,
}
#: The target sees every language equally.
TARGET_MIXTURE = {lang: 1 / len(BUILTIN_LANGUAGES) for lang in BUILTIN_LANGUAGES}

MODELS = {
    # name: (hidden, layers, heads, intermediate, steps, batch, peak lr, mixture)
    "target": (384, 8, 6, 1024, 1200, 16, 1.5e-3, TARGET_MIXTURE),
    "drafter": (128, 2, 4, 384, 1500, 16, 3e-3, DRAFTER_MIXTURE),
}
SEED = 1234


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---------------------------------------------------------------- data


def read_text(lang: str, split: str = "train") -> list[str]:
    with gzip.open(DATA / "text" / f"{lang}.{split}.txt.gz", "rt", encoding="utf-8") as fh:
        return [p.strip() for p in fh.read().split("\n\n") if p.strip()]


def read_pairs(lang: str) -> list[str]:
    """Translation training examples into ``lang``: prompt, space, reference."""
    out = []
    with gzip.open(DATA / "prompts" / "translation.train.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row["language"] == lang and row["split"] == "train":
                out.append(f"{row['prompt']} {row['reference']}")
    return out


def documents(lang: str) -> list[str]:
    return read_text(lang) + read_pairs(lang)


# ----------------------------------------------------------- tokenizer


def train_tokenizer() -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    path = WORK / "tokenizer"
    if (path / "tokenizer.json").exists():
        log("tokenizer: exists")
        return
    # Balance: the same number of characters from every language, repeating
    # the small ones (Swahili) so their merges are learnt too.
    budget = 1_500_000
    corpus = []
    for lang in BUILTIN_LANGUAGES:
        docs = documents(lang)
        random.Random(SEED).shuffle(docs)
        taken, i = 0, 0
        while taken < budget:
            doc = docs[i % len(docs)]
            corpus.append(doc)
            taken += len(doc)
            i += 1
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 0)])
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )
    fast.save_pretrained(path)
    log(f"tokenizer: {len(fast)} tokens")


def load_tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(WORK / "tokenizer")


def token_streams(tokenizer) -> dict[str, np.ndarray]:
    """Per language, all training documents tokenised into one shuffled stream."""
    cache = WORK / "streams.npz"
    if cache.exists():
        with np.load(cache) as z:
            return {k: z[k] for k in z.files}
    streams = {}
    eos, bos = tokenizer.eos_token_id, tokenizer.bos_token_id
    for lang in BUILTIN_LANGUAGES:
        docs = documents(lang)
        random.Random(SEED).shuffle(docs)
        ids = tokenizer(docs, add_special_tokens=False)["input_ids"]
        streams[lang] = np.fromiter((t for seq in ids for t in (bos, *seq, eos)), dtype=np.int32)
        log(f"stream {lang}: {len(streams[lang]):,} tokens from {len(docs):,} documents")
    np.savez(cache, **streams)
    return streams


def batch(streams, mixture, rng: np.random.Generator, size: int) -> torch.Tensor:
    langs = list(mixture)
    weights = np.array([mixture[lang] for lang in langs])
    picks = rng.choice(len(langs), size=size, p=weights / weights.sum())
    rows = []
    for i in picks:
        s = streams[langs[i]]
        start = rng.integers(0, len(s) - SEQ_LEN - 1)
        rows.append(s[start : start + SEQ_LEN + 1])
    return torch.from_numpy(np.stack(rows).astype(np.int64))


# --------------------------------------------------------------- models


def build_model(name: str, vocab: int):
    from transformers import LlamaConfig, LlamaForCausalLM

    hidden, layers, heads, inter = MODELS[name][:4]
    cfg = LlamaConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=inter,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=2,
        rope_theta=10000.0,
    )
    return LlamaForCausalLM(cfg)


def train(name: str) -> None:
    ckpt = WORK / f"{name}.pt"
    final = WORK / f"{name}.final"
    if final.exists():
        log(f"{name}: already trained")
        return
    _, _, _, _, steps, bsz, peak, mixture = MODELS[name]
    tokenizer = load_tokenizer()
    streams = token_streams(tokenizer)
    torch.manual_seed(SEED)
    model = build_model(name, len(tokenizer))
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=peak, betas=(0.9, 0.95), weight_decay=0.1)
    rng = np.random.default_rng(SEED + (1 if name == "drafter" else 0))
    step, elapsed = 0, 0.0
    if ckpt.exists():
        state = torch.load(ckpt, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        rng.bit_generator.state = state["rng"]
        step, elapsed = state["step"], state["elapsed"]
        log(f"{name}: resumed at step {step}")
    log(f"{name}: {n_params:,} parameters, {steps} steps of {bsz}x{SEQ_LEN} tokens")
    warmup = 100
    model.train()
    t0 = time.time()
    while step < steps:
        lr = (
            peak
            * min(1.0, (step + 1) / warmup)
            * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, step / steps))))
        )
        for group in opt.param_groups:
            group["lr"] = lr
        x = batch(streams, mixture, rng, bsz)
        loss = model(input_ids=x[:, :-1], labels=x[:, :-1].clone()).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 25 == 0:
            now = time.time()
            tok_s = 25 * bsz * SEQ_LEN / (now - t0)
            elapsed += now - t0
            t0 = now
            log(f"{name} step {step}/{steps} loss {loss.item():.3f} lr {lr:.2e} {tok_s:,.0f} tok/s")
        if step % 100 == 0 or step == steps:
            tmp = ckpt.with_suffix(".tmp")
            torch.save(
                {
                    "model": model.state_dict(),
                    "opt": opt.state_dict(),
                    "step": step,
                    "rng": rng.bit_generator.state,
                    "elapsed": elapsed,
                },
                tmp,
            )
            os.replace(tmp, ckpt)
    meta = {
        "parameters": n_params,
        "steps": steps,
        "batch": bsz,
        "seq_len": SEQ_LEN,
        "tokens": steps * bsz * SEQ_LEN,
        "train_seconds": round(elapsed),
        "mixture": mixture,
        "peak_lr": peak,
        "threads": torch.get_num_threads(),
    }
    final.write_text(json.dumps(meta, indent=2))
    log(f"{name}: done in {elapsed / 60:.1f} min")


# ------------------------------------------------------------- distill

DISTILL_STEPS = 400
DISTILL_LR = 1e-3


def distill() -> None:
    """Fine-tune the drafter towards the frozen target's soft labels.

    Same English-first mixture, but the loss is KL(p_target || q_drafter) at
    every position instead of next-token cross-entropy: the drafter learns
    what the target predicts, which is what speculative acceptance rewards.
    """
    final = WORK / "drafter.distilled"
    if final.exists():
        log("distill: already done")
        return
    tokenizer = load_tokenizer()
    streams = token_streams(tokenizer)
    vocab = len(tokenizer)
    target, drafter = build_model("target", vocab), build_model("drafter", vocab)
    target.load_state_dict(torch.load(WORK / "target.pt", weights_only=False)["model"])
    drafter.load_state_dict(torch.load(WORK / "drafter.pt", weights_only=False)["model"])
    target.eval()
    opt = torch.optim.AdamW(
        drafter.parameters(), lr=DISTILL_LR, betas=(0.9, 0.95), weight_decay=0.0
    )
    rng = np.random.default_rng(SEED + 2)
    bsz, mixture = MODELS["drafter"][5], MODELS["drafter"][7]
    drafter.train()
    t0, start = time.time(), time.time()
    for step in range(1, DISTILL_STEPS + 1):
        lr = DISTILL_LR * 0.5 * (1 + math.cos(math.pi * step / DISTILL_STEPS))
        for group in opt.param_groups:
            group["lr"] = lr
        x = batch(streams, mixture, rng, bsz)[:, :-1]
        with torch.no_grad():
            log_p = torch.log_softmax(target(input_ids=x).logits.float(), dim=-1)
        log_q = torch.log_softmax(drafter(input_ids=x).logits.float(), dim=-1)
        loss = torch.nn.functional.kl_div(log_q, log_p, log_target=True, reduction="none")
        loss = loss.sum(-1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(drafter.parameters(), 1.0)
        opt.step()
        if step % 25 == 0:
            now = time.time()
            log(
                f"distill step {step}/{DISTILL_STEPS} KL {loss.item():.3f} "
                f"{25 * bsz * SEQ_LEN / (now - t0):,.0f} tok/s"
            )
            t0 = now
    state = torch.load(WORK / "drafter.pt", weights_only=False)
    state["model"] = drafter.state_dict()
    torch.save(state, WORK / "drafter.pt")
    meta = json.loads((WORK / "drafter.final").read_text())
    meta["distillation"] = {
        "steps": DISTILL_STEPS,
        "batch": bsz,
        "peak_lr": DISTILL_LR,
        "loss": "KL(p_target || q_drafter)",
        "mixture": "as training",
        "seconds": round(time.time() - start),
    }
    (WORK / "drafter.final").write_text(json.dumps(meta, indent=2))
    final.write_text("done\n")
    log(f"distill: done in {(time.time() - start) / 60:.1f} min")


# --------------------------------------------------------------- export


@torch.no_grad()
def heldout_loss(model, tokenizer, lang: str, max_tokens: int = 20_000) -> float:
    docs = read_text(lang, "heldout")
    ids = tokenizer(docs, add_special_tokens=True)["input_ids"]
    stream = [t for seq in ids for t in (*seq, tokenizer.eos_token_id)][:max_tokens]
    total, count = 0.0, 0
    for i in range(0, len(stream) - 1, SEQ_LEN):
        x = torch.tensor([stream[i : i + SEQ_LEN + 1]])
        if x.shape[1] < 2:
            break
        out = model(input_ids=x[:, :-1], labels=x[:, :-1].clone())
        n = x.shape[1] - 2
        total += out.loss.item() * n
        count += n
    return total / count


def export() -> None:
    tokenizer = load_tokenizer()
    card = {}
    for name in ("target", "drafter"):
        state = torch.load(WORK / f"{name}.pt", weights_only=False)
        model = build_model(name, len(tokenizer))
        model.load_state_dict(state["model"])
        model.eval()
        # float16 halves the shipped size; the audit loads it as float32.
        dest = OUT / name
        model.to(torch.float16).save_pretrained(dest, safe_serialization=True)
        model.generation_config.save_pretrained(dest)
        tokenizer.save_pretrained(dest)
        model.float()
        meta = json.loads((WORK / f"{name}.final").read_text())
        meta["heldout_loss"] = {
            lang: round(heldout_loss(model, tokenizer, lang), 4) for lang in BUILTIN_LANGUAGES
        }
        card[name] = meta
        log(f"export {name}: heldout loss {meta['heldout_loss']}")
    text = json.dumps(card, indent=2) + "\n"
    (WORK / "card.json").write_text(text)
    (OUT / "card.json").write_text(text)  # facts behind MODEL_CARD.md


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "stage", choices=["tokenizer", "target", "drafter", "distill", "export", "all"]
    )
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(2)
    if args.stage in ("tokenizer", "all"):
        train_tokenizer()
    if args.stage in ("target", "all"):
        train("target")
    if args.stage in ("drafter", "all"):
        train("drafter")
    if args.stage in ("distill", "all"):
        distill()
    if args.stage in ("export", "all"):
        export()


if __name__ == "__main__":
    main()
