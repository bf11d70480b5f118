"""The shipped demo pair: tokenizer coverage, loading, lossless decoding, default run."""

import gzip
import json

import pytest
import torch
from typer.testing import CliRunner

from specaudit.audit.drafters.neural import NeuralDrafter
from specaudit.audit.engine import SpeculativeEngine
from specaudit.audit.loading import load_causal_lm, load_tokenizer
from specaudit.audit.prompts import builtin_prompt_dir, load_prompts, select_prompts
from specaudit.audit.runner import builtin_pair
from specaudit.audit.sampling import Decoding, TokenSampler
from specaudit.cli import app
from specaudit.languages import BUILTIN_LANGUAGES

TARGET, DRAFTER = builtin_pair()
DATA = builtin_prompt_dir().parent


@pytest.fixture(scope="module")
def pair():
    cpu = torch.device("cpu")
    return (
        load_causal_lm(str(TARGET), device=cpu, dtype=torch.float32),
        load_causal_lm(str(DRAFTER), device=cpu, dtype=torch.float32),
    )


def heldout_paragraphs(lang, n=20):
    with gzip.open(DATA / "text" / f"{lang}.heldout.txt.gz", "rt", encoding="utf-8") as fh:
        return [p for p in fh.read().split("\n\n") if p.strip()][:n]


@pytest.mark.parametrize("lang", BUILTIN_LANGUAGES)
def test_tokenizer_round_trips_every_language(lang):
    tok = load_tokenizer(str(TARGET))
    assert tok.unk_token_id is None or tok.unk_token is None  # byte-level: no unknowns
    for text in heldout_paragraphs(lang):
        ids = tok(text, add_special_tokens=False)["input_ids"]
        assert tok.decode(ids) == text


def test_pair_shares_a_vocabulary_and_sizes_match_the_card(pair):
    target, drafter = pair
    assert target.tokenizer.get_vocab() == drafter.tokenizer.get_vocab()
    assert 15e6 <= target.info["parameters"] <= 20e6
    assert 1e6 <= drafter.info["parameters"] <= 2e6


def test_demo_pair_decodes_losslessly(pair):
    target, drafter = pair
    drafter = NeuralDrafter(drafter.model, vocab_size=len(target.tokenizer))
    engine = SpeculativeEngine(
        target.model, drafter, gamma=4, eos_ids={target.tokenizer.eos_token_id}
    )
    prompts = select_prompts(load_prompts([builtin_prompt_dir()]), split="eval", n_per_group=1)
    greedy = TokenSampler(Decoding("greedy"))
    accepted = 0
    for p in prompts:
        ids = target.tokenizer(p.prompt)["input_ids"]
        spec = engine.speculative(ids, 24, greedy)
        assert spec.output_ids == engine.plain(ids, 24, greedy).output_ids, p.id
        accepted += sum(s.accepted for s in spec.steps)
    assert accepted > 0  # a trained drafter gets drafts accepted


def test_default_run_uses_the_builtin_pair_and_sets(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--languages",
            "en,sw",
            "--n-prompts",
            "2",
            "--max-new-tokens",
            "8",
            "--warmup",
            "0",
            "--no-progress",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert len(records) == 8  # 2 languages x 2 tasks x 2 prompts
    assert all(r["lossless"] for r in records)
    env = json.loads((out / "environment.json").read_text())
    assert env["models"]["target"]["spec"].endswith("target")
    assert (out / "metrics.json").exists()
