"""The training loop on tiny models: it learns, it never touches the target, it resumes."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from specaudit.errors import RuntimeFailure
from specaudit.mitigation import trainer as trainer_module
from specaudit.mitigation.batches import collate
from specaudit.mitigation.config import MitigationConfig
from specaudit.mitigation.continuations import generate_continuations
from specaudit.mitigation.probe import make_probe_set
from specaudit.mitigation.soft_labels import compute_soft_labels
from specaudit.mitigation.trainer import TrainingData, parameter_digest, train_drafter

TEXTS = {
    "en": ["the cat sat on", "the dog sat", "on the mat and", "the log and the"],
    "de": ["der Hund sitzt", "die Katze", "auf dem Teppich", "und die Katze"],
    "sw": ["mbwa anakula", "paka analala", "jikoni na", "na paka"],
}


def _models(tiny_dirs):
    tok = AutoTokenizer.from_pretrained(tiny_dirs["target"])
    target = AutoModelForCausalLM.from_pretrained(tiny_dirs["target"]).eval()
    # A random tiny target is nearly uniform, which any drafter already fits;
    # sharpen it so there is something to learn (the toy task).
    with torch.no_grad():
        target.lm_head.weight.mul_(30.0)
    drafter = AutoModelForCausalLM.from_pretrained(tiny_dirs["drafter"])
    return tok, target, drafter


def _data(tok, target) -> TrainingData:
    items = []
    for lang, texts in TEXTS.items():
        for i, text in enumerate(texts):
            ids = tok(text)["input_ids"]
            items.append((f"{lang}-{i}", lang, "translation", "train", ids))
            if i < 2:  # the toy task: can the drafter fit what it is trained on?
                items.append((f"{lang}-{i}-probe", lang, "translation", "probe", ids))
    rows = generate_continuations(target, items, max_new_tokens=6, eos_ids={1}, pad_id=1)
    groups = tuple(TEXTS)
    index = {g: i for i, g in enumerate(groups)}
    train_rows = [r for r in rows if r.role == "train"]
    train = [[r for r in train_rows if r.language == g] for g in groups]
    probe = make_probe_set(target, [collate([r for r in rows if r.role == "probe"], index, 1)])
    labels = compute_soft_labels(target, train_rows, k=32, pad_id=1)
    vocab = target.config.vocab_size
    return TrainingData(groups, train, probe, 1, vocab, labels=labels)


def _config(**kw) -> MitigationConfig:
    base = {
        "strategy": "balanced",
        "steps": 40,
        "lr": 3e-3,
        "batch_size": 2,
        "eval_every": 10,
        "patience": 10,
    }
    return MitigationConfig(**{**base, **kw})


@pytest.mark.parametrize(
    "options",
    [
        {"strategy": "balanced"},
        {"strategy": "scdf"},
        {"strategy": "scdf", "weighting": "sample"},
        {"strategy": "scdf", "weights_from": "ema", "divergence": "cross_entropy"},
    ],
    ids=["balanced", "scdf", "scdf-sampled", "scdf-ema-ce"],
)
def test_distillation_lowers_the_drafters_divergence_and_leaves_the_target(
    tiny_dirs, tmp_path, options
):
    strategy = options["strategy"]
    tok, target, drafter = _models(tiny_dirs)
    data = _data(tok, target)
    digest = parameter_digest(target)
    outcome = train_drafter(target, drafter, data, _config(**options), tmp_path, log=lambda _: None)
    first, last = outcome.history[0], outcome.history[-1]
    assert last["mean_kl"] < 0.8 * first["mean_kl"]
    assert outcome.best_step > 0  # trained weights come back, never the original ones
    assert last["mean_cross_entropy"] < first["mean_cross_entropy"]
    assert parameter_digest(target) == digest
    assert not any(p.requires_grad for p in target.parameters())
    assert (tmp_path / "training.csv").read_text().count("\n") == len(outcome.history) + 1
    if strategy == "scdf":  # one group always carries weight 0: the best-fit one
        weights = [[row[f"weight_{g}"] for g in TEXTS] for row in outcome.history[1:]]
        assert all(min(w) == 0.0 and max(w) > 0 for w in weights)


def test_a_changed_target_is_refused(tiny_dirs, tmp_path, monkeypatch):
    tok, target, drafter = _models(tiny_dirs)
    data = _data(tok, target)
    real_run = trainer_module._Trainer.run

    def run_and_touch_target(self):
        with torch.no_grad():
            next(self.target.parameters()).add_(1.0)
        return real_run(self)

    monkeypatch.setattr(trainer_module._Trainer, "run", run_and_touch_target)
    with pytest.raises(RuntimeFailure, match="target's parameters changed"):
        train_drafter(target, drafter, data, _config(steps=2), tmp_path, log=lambda _: None)


def test_a_killed_training_resumes_to_the_same_weights(tiny_dirs, tmp_path):
    tok, target, _ = _models(tiny_dirs)
    data = _data(tok, target)
    config = _config(strategy="scdf", steps=20, eval_every=5)

    _, _, whole = _models(tiny_dirs)
    train_drafter(target, whole, data, config, tmp_path / "whole", log=lambda _: None)

    def die_at_step_10(line: str) -> None:
        if line.startswith("step   10"):
            raise KeyboardInterrupt

    _, _, first = _models(tiny_dirs)
    with pytest.raises(KeyboardInterrupt):
        train_drafter(target, first, data, config, tmp_path / "split", log=die_at_step_10)
    lines = []
    _, _, resumed = _models(tiny_dirs)
    outcome = train_drafter(target, resumed, data, config, tmp_path / "split", log=lines.append)
    assert lines[0].startswith("resumed at step 5")
    assert outcome.steps == 20
    assert [r["step"] for r in outcome.history] == [0, 5, 10, 15, 20]
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b)


def test_resume_with_other_settings_is_refused(tiny_dirs, tmp_path):
    tok, target, drafter = _models(tiny_dirs)
    data = _data(tok, target)
    train_drafter(
        target, drafter, data, _config(steps=2, eval_every=1), tmp_path, log=lambda _: None
    )
    with pytest.raises(RuntimeFailure, match="other settings"):
        train_drafter(
            target, drafter, data, _config(steps=3, eval_every=1), tmp_path, log=lambda _: None
        )


def test_time_budget_stops_training(tiny_dirs, tmp_path):
    tok, target, drafter = _models(tiny_dirs)
    data = _data(tok, target)
    outcome = train_drafter(
        target, drafter, data, _config(steps=10_000, time_budget=0.5), tmp_path, log=lambda _: None
    )
    assert outcome.steps < 10_000
    assert outcome.stop_reason.startswith("time budget")
