"""mitigate end to end on tiny models: new drafters load, audit losslessly, and resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from specaudit.audit.config import RunConfig
from specaudit.audit.ngram import NGramModel
from specaudit.mitigation.config import MitigationConfig
from specaudit.mitigation.pipeline import mitigate
from tests.mitigation.conftest import TEXTS


def _audit(tiny_dirs, prompts: Path) -> RunConfig:
    return RunConfig(
        target=str(tiny_dirs["target"]),
        drafter=str(tiny_dirs["drafter"]),
        prompts=[str(prompts)],
        n_prompts=2,
        max_new_tokens=8,
        warmup=0,
        device="cpu",
    )


def _records(run_dir: Path) -> list[dict]:
    return [json.loads(x) for x in (run_dir / "records.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("strategy", ["mono", "ngram"])
def test_new_drafters_load_and_audit_losslessly(tiny_dirs, split_prompts, tmp_path, strategy):
    config = MitigationConfig(
        strategy=strategy,
        steps=4,
        eval_every=2,
        n_train=3,
        n_probe=2,
        batch_size=2,
        mono_seq_len=16,
        ngram_order=3,
    )
    (result,) = mitigate(
        _audit(tiny_dirs, split_prompts), [config], tmp_path, log=lambda _: None, progress=False
    )
    after = _records(result.after)
    before = _records(result.before)
    assert len(after) == len(before) == 8  # 2 languages x 2 tasks x 2 held-out prompts
    assert {r["id"] for r in after} == {r["id"] for r in before}
    assert all(r["lossless"] for r in after)
    assert all(r["split"] == "heldout" for r in after)
    if strategy == "ngram":
        assert result.drafter.startswith("ngram:")
        NGramModel.load(result.drafter.removeprefix("ngram:"))
    else:
        drafter_dir = Path(result.drafter)
        assert (drafter_dir / "model.safetensors").is_file()
        card = json.loads(result.card.read_text())
        assert card["target_unchanged"] and card["strategy"] == "mono"
        assert set(card["data"]["groups"]) == set(TEXTS)


def test_a_second_strategy_reuses_the_continuations_and_the_before_audit(
    tiny_dirs, split_prompts, tmp_path
):
    audit = _audit(tiny_dirs, split_prompts)
    configs = [
        MitigationConfig(strategy=s, steps=2, eval_every=1, n_train=3, n_probe=2, batch_size=2)
        for s in ("balanced", "scdf")
    ]
    lines: list[str] = []
    first, second = mitigate(audit, configs, tmp_path, log=lines.append, progress=False)
    assert first.before == second.before
    assert any("continuations" in x and "generated" in x for x in lines)
    assert any("continuations" in x and "reused" in x for x in lines)
    assert len(list((tmp_path / "cache").glob("continuations-*.jsonl"))) == 1
    # A rerun resumes everything: nothing is trained or decoded again.
    again: list[str] = []
    mitigate(audit, configs, tmp_path, log=again.append, progress=False)
    assert not any(x.startswith("step ") for x in again)
    assert sum(x.startswith("resumed at step 2") for x in again) == 2
    audits = [x for x in again if x.startswith("audit ")]
    assert len(audits) == 4 and all("(0 decoded now)" in x for x in audits)
