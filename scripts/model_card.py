"""Write the demo pair's model card from its training facts and a default audit.

Usage::

    specaudit run --out runs/default        # the default audit, fresh
    python scripts/model_card.py runs/default

Reads ``specaudit/data/models/card.json`` (written by
``scripts/train_demo_pair.py export``) and the run's ``metrics.json`` and
``environment.json``; writes ``specaudit/data/models/MODEL_CARD.md``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "specaudit" / "data" / "models"


def est(e: dict, digits: int = 2) -> str:
    if e["estimate"] is None:
        return "n/a"
    text = f"{e['estimate']:.{digits}f}"
    if e.get("ci_low") is not None:
        text += f" [{e['ci_low']:.{digits}f}, {e['ci_high']:.{digits}f}]"
    return text


def distillation(d: dict) -> list[str]:
    """The drafter's second stage, when it had one."""
    dist = d.get("distillation")
    if not dist:
        return []
    return [
        f"The drafter was then fine-tuned for {dist['steps']} steps (batch {dist['batch']}, "
        f"peak learning rate {dist['peak_lr']}, {dist['seconds'] / 60:.0f} min) on the frozen "
        f"target's soft labels, loss {dist['loss']}, on the same English-first mixture: it "
        "learns what the target predicts, which is what acceptance rewards.",
        "",
    ]


def targets(metrics: dict, wall: float) -> list[str]:
    """The issue's targets for the default audit, met or not, from the measured figures."""
    groups = {g["group"]: g for g in metrics["groups"]}
    by_lang: dict[str, list[dict]] = {}
    for g in groups.values():
        by_lang.setdefault(g["language"], []).append(g)
    en_story = groups["en/story"]["speedup"]
    acc = sorted(groups.values(), key=lambda g: g["acceptance_rate"]["estimate"])
    worst, best = acc[0], acc[-1]
    gap = best["acceptance_rate"]["estimate"] - worst["acceptance_rate"]["estimate"]
    apart = best["acceptance_rate"]["ci_low"] > worst["acceptance_rate"]["ci_high"]

    def mark(ok: bool) -> str:
        return "met" if ok else "NOT met"

    return [
        "## Targets of the default audit",
        "",
        "| target | measured | |",
        "|---|---|---|",
        f"| decoding under 10 min on 2 cores | {wall / 60:.1f} min | {mark(wall < 600)} |",
        f"| English story speed-up ≥ 1.3× | {est(en_story)}× | "
        f"{mark(en_story['estimate'] >= 1.3)} |",
        f"| best − worst acceptance_rate ≥ 0.15, intervals apart | {best['group']} "
        f"{est(best['acceptance_rate'])} vs {worst['group']} {est(worst['acceptance_rate'])}: "
        f"gap {gap:.2f} | {mark(gap >= 0.15 and apart)} |",
        "",
        "Why English story stays below 1.3×: on these 2 CPU cores one target forward "
        "over 5 tokens costs about 1.4 times one over 1 token, and one drafter forward "
        "(Python-overhead bound at this size) about 0.2 of a target forward, so with "
        "γ = 4 a step costs about 2.5 plain decoding steps and 1.3× needs α ≈ 0.8 or "
        "more on that group.",
        "",
    ]


def main(run_dir: Path) -> None:
    card = json.loads((MODELS / "card.json").read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    env = json.loads((run_dir / "environment.json").read_text())
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    records = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    wall = sum(r["spec_time_s"] + r["baseline_time_s"] for r in records)
    lossless = sum(bool(r["lossless"]) for r in records)
    t, d = card["target"], card["drafter"]
    langs = list(t["heldout_loss"])
    lines = [
        "# Model card: the specaudit demo pair",
        "",
        "A drafter–target pair built only to demonstrate disparate speed-ups: the "
        "drafter is trained English-first, the way small real drafters are. Not for "
        "any use beyond auditing demos and tests. Reproduce with "
        "`python scripts/train_demo_pair.py all` from the shipped data "
        "(`DATA_SOURCES.md`); weights are float16 safetensors, loaded as float32.",
        "",
        "| | target | drafter |",
        "|---|---|---|",
        f"| parameters | {t['parameters']:,} | {d['parameters']:,} |",
        f"| training steps × batch × sequence | {t['steps']} × {t['batch']} × {t['seq_len']} "
        f"| {d['steps']} × {d['batch']} × {d['seq_len']} |",
        f"| training tokens | {t['tokens']:,} | {d['tokens']:,} |",
        f"| training time ({t['threads']} CPU threads) | {t['train_seconds'] / 60:.0f} min "
        f"| {d['train_seconds'] / 60:.0f} min |",
        f"| peak learning rate | {t['peak_lr']} | {d['peak_lr']} |",
        "",
        *distillation(d),
        "Architecture: Llama-style, tied embeddings, byte-level BPE tokenizer of 8,192 "
        "tokens trained on equal amounts of text per language.",
        "",
        "## Data mixture (share of training windows per language)",
        "",
        "| language | " + " | ".join(langs) + " |",
        "|---|" + "---|" * len(langs),
        "| target | " + " | ".join(f"{t['mixture'][x]:.3f}" for x in langs) + " |",
        "| drafter | " + " | ".join(f"{d['mixture'][x]:.3f}" for x in langs) + " |",
        "",
        "Each language's windows come from its monolingual training text and its "
        "translation training pairs (prompt template plus reference), train split only.",
        "",
        "## Held-out loss per language (nats per token, `text/<lang>.heldout`)",
        "",
        "| language | " + " | ".join(langs) + " |",
        "|---|" + "---|" * len(langs),
        "| target | " + " | ".join(f"{t['heldout_loss'][x]:.2f}" for x in langs) + " |",
        "| drafter | " + " | ".join(f"{d['heldout_loss'][x]:.2f}" for x in langs) + " |",
        "",
        "## The default audit",
        "",
        f"`specaudit run` with no arguments: γ = {config['gamma']}, {config['mode']}, "
        f"{config['n_prompts']} prompts per group, {config['max_new_tokens']} new tokens, "
        f"{env['device']} ({env['cpu']}, {env['threads']} threads), torch "
        f"{env['packages']['torch']}. Decoding time (both decodes of every prompt): "
        f"{wall / 60:.1f} min; lossless prompts: {lossless}/{len(records)}.",
        "",
        "| group | acceptance_rate | speed-up | mean accepted length |",
        "|---|---|---|---|",
    ]
    for g in metrics["groups"]:
        lines.append(
            f"| {g['group']} | {est(g['acceptance_rate'])} | {est(g['speedup'])}× "
            f"| {est(g['mean_accepted_length'])} |"
        )
    disp = metrics["disparity"]
    lines += [
        "",
        f"Unfairness U (all groups): {est(disp['unfairness_u'], 4)}; worst group: "
        f"{disp['worst_group']}. Intervals are 95% bootstrap intervals "
        "(`specaudit metrics`).",
        "",
    ]
    lines += targets(metrics, wall)
    (MODELS / "MODEL_CARD.md").write_text("\n".join(lines))
    print(MODELS / "MODEL_CARD.md")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
