"""Train the built-in demo pair: a byte-level BPE tokenizer, a target and a drafter.

Everything comes from the shipped data under ``specaudit/data`` (train splits
only), deterministically from fixed seeds:

- tokenizer: byte-level BPE, 8,192 tokens, trained on text balanced across
  the eleven languages (byte-level, so no language can hit unknown tokens);
- target: Llama-style, ~17M parameters, balanced mixture of monolingual text
  and translation pairs of every language;
- drafter: the same architecture at ~1.5M parameters, trained on an
  English-dominant mixture (DRAFTER_MIXTURE), the way real small drafters are.

The drafter then gets two fine-tuning stages towards the frozen target *as
shipped* (its float16 weights, loaded as float32, exactly what the audit
verifies with):

- ``distill``: the soft-label cross-entropy D(p_target || q_drafter) (KL plus
  the target's entropy: the same gradient) at every position of text windows,
  on an even more English-first mixture (DISTILL_ENGLISH);
- ``onpolicy``: the same loss along the target's own greedy continuations of
  English training prompts (translation ``train`` rows and openings of the
  monolingual ``train`` text; never the story task), which is what the
  drafter has to predict during speculative decoding.

Usage (run in the background; each stage checkpoints and resumes)::

    mkdir -p scripts/.cache
    nohup python scripts/train_demo_pair.py all > scripts/.cache/train.log 2>&1 &

Stages: ``tokenizer``, ``target``, ``export-target``, ``drafter``, ``distill``,
``onpolicy``, ``export-drafter``, ``all`` (every stage in that order).
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

from specaudit.audit.environment import cpu_name
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
        # Times differ between CPUs by 3x here, so the card names the CPU.
        "cpu": cpu_name(),
    }
    final.write_text(json.dumps(meta, indent=2))
    log(f"{name}: done in {elapsed / 60:.1f} min")


# ------------------------------------------------------------- distill

DISTILL_STEPS = 600
DISTILL_LR = 1e-3
#: English share of distillation windows; the other languages keep their
#: pre-training proportions among themselves.
DISTILL_ENGLISH = 0.9

ONPOLICY_STEPS = 300
ONPOLICY_LR = 5e-4
#: English training prompts per kind (translation rows, text openings).
ONPOLICY_PROMPTS = 600
#: The default audit's ``max_new_tokens``.
ONPOLICY_NEW_TOKENS = 48


def english_first(mixture: dict[str, float], english: float) -> dict[str, float]:
    """``mixture`` with English at ``english`` and the rest scaled to fill the remainder."""
    rest = sum(w for lang, w in mixture.items() if lang != "en")
    return {
        lang: english if lang == "en" else w * (1 - english) / rest for lang, w in mixture.items()
    }


def shipped_target():
    """The target exactly as the audit loads it: shipped float16 weights, as float32."""
    from transformers import LlamaForCausalLM

    model = LlamaForCausalLM.from_pretrained(OUT / "target", dtype=torch.float32)
    return model.eval()


def load_checkpoint(name: str, vocab: int, checkpoint: Path):
    """Model ``name`` with the weights of one of this script's checkpoints."""
    model = build_model(name, vocab)
    model.load_state_dict(torch.load(checkpoint, weights_only=False)["model"])
    return model


def fine_tune(name: str, drafter, target, source, steps: int, peak: float) -> float:
    """Cosine-scheduled AdamW on the target's soft labels; returns the seconds it took.

    ``source`` has ``next()``, giving ``(ids, attention, scored)`` with
    ``scored`` marking the positions trained on, and ``state``/``restore``
    for its random state. Checkpoints every 100 steps and resumes from there.
    """
    from specaudit.mitigation.objective import soft_cross_entropy

    ckpt = WORK / f"drafter.{name}.ckpt"
    opt = torch.optim.AdamW(drafter.parameters(), lr=peak, betas=(0.9, 0.95), weight_decay=0.0)
    done, elapsed = 0, 0.0
    if ckpt.exists():
        state = torch.load(ckpt, weights_only=False)
        drafter.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        source.restore(state["rng"])
        done, elapsed = state["step"], state["elapsed"]
        log(f"{name}: resumed at step {done}")
    drafter.train()
    t0 = time.time()
    for step in range(done + 1, steps + 1):
        for group in opt.param_groups:
            group["lr"] = peak * 0.5 * (1 + math.cos(math.pi * step / steps))
        ids, attention, scored = source.next()
        with torch.no_grad():
            p_logits = target(input_ids=ids, attention_mask=attention).logits
        q_logits = drafter(input_ids=ids, attention_mask=attention).logits
        # D(p || q) differs from KL(p || q) by the target's entropy only.
        loss = soft_cross_entropy(p_logits, q_logits)[scored].mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(drafter.parameters(), 1.0)
        opt.step()
        if step % 25 == 0:
            log(f"{name} step {step}/{steps} D {loss.item():.3f} ({time.time() - t0:.0f} s)")
        if step % 100 == 0 or step == steps:
            now = time.time()
            elapsed, t0 = elapsed + now - t0, now
            state = {
                "model": drafter.state_dict(),
                "opt": opt.state_dict(),
                "rng": source.state(),
                "step": step,
                "elapsed": elapsed,
            }
            torch.save(state, ckpt.with_suffix(".tmp"))
            os.replace(ckpt.with_suffix(".tmp"), ckpt)
    log(f"{name}: done in {elapsed / 60:.1f} min")
    return elapsed


class WindowSource:
    """Random text windows of a language mixture (the distillation batches)."""

    def __init__(self, streams, mixture, seed: int, size: int):
        self.streams, self.mixture, self.size = streams, mixture, size
        self.rng = np.random.default_rng(seed)

    def next(self):
        x = batch(self.streams, self.mixture, self.rng, self.size)[:, :-1]
        return x, torch.ones_like(x), torch.ones(x.shape, dtype=torch.bool)

    def state(self):
        return self.rng.bit_generator.state

    def restore(self, state) -> None:
        self.rng.bit_generator.state = state


class RowSource:
    """Random prompt-plus-continuation rows, scored on the continuation only."""

    def __init__(self, rows, pad_id: int, seed: int, size: int):
        self.rows, self.pad_id, self.size = rows, pad_id, size
        self.generator = torch.Generator().manual_seed(seed)

    def next(self):
        from specaudit.mitigation.batches import collate

        picks = torch.randint(len(self.rows), (self.size,), generator=self.generator).tolist()
        b = collate([self.rows[i] for i in picks], {"en": 0}, self.pad_id)
        return b.ids, b.attention, b.score

    def state(self):
        return self.generator.get_state()

    def restore(self, state) -> None:
        self.generator.set_state(state)


def save_stage(name: str, drafter, meta: dict) -> None:
    torch.save({"model": drafter.state_dict()}, WORK / f"drafter.{name}.pt")
    (WORK / f"drafter.{name}.json").write_text(json.dumps(meta, indent=2))


def distill() -> None:
    """Fine-tune the pre-trained drafter towards the shipped target's soft labels.

    The loss is the soft-label cross-entropy at every position of text windows
    instead of next-token cross-entropy: the drafter learns what the target
    predicts, which is what speculative acceptance rewards.
    """
    if (WORK / "drafter.distill.json").exists():
        log("distill: already done")
        return
    tokenizer = load_tokenizer()
    drafter = load_checkpoint("drafter", len(tokenizer), WORK / "drafter.pt")
    bsz = MODELS["drafter"][5]
    mixture = english_first(MODELS["drafter"][7], DISTILL_ENGLISH)
    source = WindowSource(token_streams(tokenizer), mixture, SEED + 2, bsz)
    seconds = fine_tune("distill", drafter, shipped_target(), source, DISTILL_STEPS, DISTILL_LR)
    save_stage(
        "distill",
        drafter,
        {
            "steps": DISTILL_STEPS,
            "batch": bsz,
            "peak_lr": DISTILL_LR,
            "loss": "D(p_target || q_drafter) on text windows",
            "mixture": {lang: round(w, 4) for lang, w in mixture.items()},
            "seconds": round(seconds),
        },
    )


def onpolicy() -> None:
    """Fine-tune on the target's own greedy continuations of English training prompts."""
    from specaudit.audit.config import RunConfig
    from specaudit.audit.runner import encode
    from specaudit.mitigation.continuations import generate_continuations, load_or_generate
    from specaudit.mitigation.trainset import training_prompts

    if (WORK / "drafter.onpolicy.json").exists():
        log("onpolicy: already done")
        return
    tokenizer = load_tokenizer()
    target = shipped_target()
    drafter = load_checkpoint("drafter", len(tokenizer), WORK / "drafter.distill.pt")
    (english,) = training_prompts(["en"], n_train=ONPOLICY_PROMPTS, n_probe=0, seed=SEED + 3)
    config = RunConfig()
    items = [
        (p.id, p.language, p.task, "train", encode(tokenizer, p, config)) for p in english.train
    ]

    def generate():
        log(f"onpolicy: generating target continuations of {len(items)} English prompts")
        return generate_continuations(
            target,
            items,
            max_new_tokens=ONPOLICY_NEW_TOKENS,
            eos_ids={tokenizer.eos_token_id},
            pad_id=tokenizer.pad_token_id,
        )

    start = time.time()
    settings = {"prompts": [i[0] for i in items], "new_tokens": ONPOLICY_NEW_TOKENS}
    rows, path, _ = load_or_generate(WORK, settings, generate)
    generation = time.time() - start
    log(f"onpolicy: {len(rows)} continuations in {path.name} ({generation:.0f} s)")
    bsz = MODELS["drafter"][5]
    source = RowSource(rows, tokenizer.pad_token_id, SEED + 3, bsz)
    seconds = fine_tune("onpolicy", drafter, target, source, ONPOLICY_STEPS, ONPOLICY_LR)
    save_stage(
        "onpolicy",
        drafter,
        {
            "steps": ONPOLICY_STEPS,
            "batch": bsz,
            "peak_lr": ONPOLICY_LR,
            "loss": "D(p_target || q_drafter) along the target's greedy continuations",
            "prompts": {"en": len(rows), "kinds": ["translation", "text"]},
            "new_tokens": ONPOLICY_NEW_TOKENS,
            "seconds": round(seconds + generation),
        },
    )


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


def export(name: str) -> None:
    """Ship one model (float16 safetensors + tokenizer) and its facts in ``card.json``.

    The drafter ships its last fine-tuning stage; each stage's settings go
    into the card next to the pre-training facts.
    """
    from transformers import LlamaForCausalLM

    tokenizer = load_tokenizer()
    checkpoint = WORK / ("drafter.onpolicy.pt" if name == "drafter" else "target.pt")
    model = load_checkpoint(name, len(tokenizer), checkpoint).eval()
    # float16 halves the shipped size; the audit loads it as float32.
    dest = OUT / name
    model.to(torch.float16).save_pretrained(dest, safe_serialization=True)
    model.generation_config.save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    # Held-out loss of the weights as shipped, not of the float32 checkpoint.
    model = LlamaForCausalLM.from_pretrained(dest, dtype=torch.float32).eval()
    meta = json.loads((WORK / f"{name}.final").read_text())
    if name == "drafter":
        for stage in ("distill", "onpolicy"):
            meta[stage] = json.loads((WORK / f"drafter.{stage}.json").read_text())
    meta["heldout_loss"] = {
        lang: round(heldout_loss(model, tokenizer, lang), 4) for lang in BUILTIN_LANGUAGES
    }
    log(f"export {name}: heldout loss {meta['heldout_loss']}")
    path = OUT / "card.json"  # facts behind MODEL_CARD.md
    card = json.loads(path.read_text()) if path.exists() else {}
    card[name] = meta
    path.write_text(json.dumps(card, indent=2) + "\n")


STAGES = {
    "tokenizer": train_tokenizer,
    "target": lambda: train("target"),
    # The drafter is fine-tuned towards the shipped target, so it ships first.
    "export-target": lambda: export("target"),
    "drafter": lambda: train("drafter"),
    "distill": distill,
    "onpolicy": onpolicy,
    "export-drafter": lambda: export("drafter"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=[*STAGES, "all"])
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(2)
    for name, stage in STAGES.items():
        if args.stage in (name, "all"):
            stage()


if __name__ == "__main__":
    main()
