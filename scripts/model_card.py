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
import math
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
    """The drafter's fine-tuning stages after pre-training, when it had them."""
    parts = []
    if "distill" in d:
        x = d["distill"]
        parts.append(
            f"{x['steps']} steps (batch {x['batch']}, peak learning rate {x['peak_lr']}, "
            f"{x['seconds'] / 60:.0f} min) of {x['loss']}, on a mixture even more "
            f"English-first than pre-training (English {x['mixture']['en']:.2f})"
        )
    if "onpolicy" in d:
        x = d["onpolicy"]
        parts.append(
            f"{x['steps']} steps (peak learning rate {x['peak_lr']}, "
            f"{x['seconds'] / 60:.0f} min with generation) of {x['loss']}, over "
            f"{x['prompts']['en']:,} English training prompts (translation `train` rows and "
            f"openings of the monolingual `train` text, {x['new_tokens']} new tokens each; "
            "never the story task)"
        )
    if not parts:
        return []
    return [
        "The drafter was then fine-tuned towards the frozen target as shipped: "
        + ("first " if len(parts) > 1 else "")
        + "; then ".join(parts)
        + ". It learns what the target predicts, which is what acceptance rewards.",
        "",
    ]


def mixtures(t: dict, d: dict) -> list[tuple[str, dict]]:
    """Rows of the data-mixture table: each model, and each drafter stage with one."""
    rows = [("target", t["mixture"]), ("drafter, pre-training", d["mixture"])]
    if "distill" in d:
        rows.append(("drafter, distillation", d["distill"]["mixture"]))
    return rows


def perfect_drafter_bound(records: list[dict], group: str, gamma: int) -> float:
    """Speed-up of ``group`` if every draft were accepted, at this run's own costs.

    Each prompt keeps its prefill time and its measured mean cost per
    speculative step, but needs only ceil(n / (γ + 1)) steps for its n output
    tokens. Summed like the measured speed-up (plain time over speculative time).
    """
    plain = spec = 0.0
    for r in records:
        if f"{r['language']}/{r['task']}" != group or not r["steps"]:
            continue
        step_cost = (r["spec_time_s"] - r["prefill_time_s"]) / len(r["steps"])
        steps = math.ceil(len(r["output_ids"]) / (gamma + 1))
        plain += r["baseline_time_s"]
        spec += r["prefill_time_s"] + steps * step_cost
    return plain / spec


def targets(metrics: dict, wall: float, records: list[dict], config: dict) -> list[str]:
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

    lines = [
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
    ]
    # Always say what bounds English story: its outputs are short, so a
    # speculative step's fixed cost weighs heavily; a met target can still
    # have an interval that reaches below 1.3x.
    gamma = config["gamma"]
    story = [r for r in records if r["language"] == "en" and r["task"] == "story"]
    length = sum(len(r["output_ids"]) for r in story) / len(story)
    bound = perfect_drafter_bound(records, "en/story", gamma)
    step = sum(r["spec_time_s"] - r["prefill_time_s"] for r in story) / sum(
        len(r["steps"]) for r in story
    )
    token = sum(r["baseline_time_s"] - r["baseline_prefill_time_s"] for r in story) / sum(
        len(r["baseline_output_ids"]) for r in story
    )
    met = en_story["estimate"] >= 1.3
    lead = "What bounds English story's speed-up" if met else "Why English story stays below 1.3×"
    lines += [
        f"{lead}: the target ends its English story "
        f"continuations after {length:.1f} tokens on average "
        f"(of {config['max_new_tokens']} allowed), "
        f"and one speculative step (γ = {gamma} drafter forwards, one target forward "
        f"over {gamma + 1} tokens, bookkeeping) costs {step * 1e3:.1f} ms against "
        f"{token * 1e3:.2f} ms per plain decoding token, {step / token:.1f} times as "
        "much. A drafter whose every draft were accepted would reach "
        f"{bound:.2f}× on this group at this run's own costs "
        "(`perfect_drafter_bound` in `scripts/model_card.py`).",
        "",
    ]
    quality = groups["en/story"].get("quality") or {}
    clean = quality.get("speedup_non_degenerate")
    if quality.get("n_degenerate") and clean and clean["estimate"] is not None:
        # Loops are easy to draft: say how much of the speed-up they carry.
        n_deg = quality["n_degenerate"]
        lines += [
            f"{n_deg} of the {len(story)} English story outputs are degenerate (repetition "
            "loops or near-duplicates, which the target produces and a drafter finds easy); "
            f"over the other {len(story) - n_deg} the speed-up is {est(clean)}×.",
            "",
        ]
    if met and en_story["ci_low"] < 1.3:
        lines += [
            f"The estimate meets 1.3×, but its 95% interval over these {len(story)} "
            f"prompts reaches down to {en_story['ci_low']:.2f}×: the target is met by "
            "the estimate, not with confidence.",
            "",
        ]
    return lines


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
        f"| trained on | {t.get('cpu', 'not recorded')} | {d.get('cpu', 'not recorded')} |",
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
        *(
            f"| {who} | " + " | ".join(f"{mixture[x]:.3f}" for x in langs) + " |"
            for who, mixture in mixtures(t, d)
        ),
        "",
        "Each language's windows come from its monolingual training text and its "
        "translation training pairs (prompt template plus reference), train split only."
        + (" The drafter's on-policy stage is English only." if "onpolicy" in d else ""),
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
    lines += targets(metrics, wall, records, config)
    (MODELS / "MODEL_CARD.md").write_text("\n".join(lines))
    print(MODELS / "MODEL_CARD.md")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
