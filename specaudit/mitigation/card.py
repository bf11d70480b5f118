"""The training card: what a retrained drafter learned from, and how it ended."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from specaudit.atomic import write_atomic
from specaudit.audit.config import RunConfig
from specaudit.mitigation.config import MitigationConfig
from specaudit.mitigation.continuations import TrainingRow
from specaudit.mitigation.trainer import TrainingData, TrainingOutcome

__all__ = ["training_card", "write_training_card"]

_STRATEGY_TEXT = {
    "scdf": "s-CDF: per-group soft-label distillation from the frozen target with "
    "shift-by-minimum group weights w_i = D_i - min_j D_j (reconstructed from arXiv 2510.02128)",
    "balanced": "balanced: soft-label distillation from the frozen target, uniform group weights",
    "task": "task-specific: soft-label distillation on translation prompts only",
    "mono": "monolingual: language-model cross-entropy on the shipped monolingual text",
}


def _group_figures(row: dict, groups: Sequence[str]) -> dict:
    return {
        g: {
            "cross_entropy": row[f"cross_entropy_{g}"],
            "kl": row[f"kl_{g}"],
            "alpha": row[f"alpha_{g}"],
            "weight": row[f"weight_{g}"],
        }
        for g in groups
    }


def training_card(
    *,
    config: MitigationConfig,
    audit: RunConfig,
    outcome: TrainingOutcome,
    data: TrainingData,
    rows: Sequence[TrainingRow],
    drafter_spec: str,
) -> dict:
    """Build the card as a JSON-ready dict."""
    first = outcome.history[0]
    best = next(r for r in outcome.history if r["step"] == outcome.best_step)
    counts = Counter((r.language, r.kind, r.role) for r in rows)
    return {
        "strategy": config.strategy,
        "description": _STRATEGY_TEXT[config.strategy],
        "drafter": drafter_spec,
        "base_drafter": audit.drafter,
        "target": audit.target,
        "target_unchanged": True,  # train_drafter raises otherwise
        "settings": config.model_dump(),
        "data": {
            "groups": list(data.groups),
            "train_rows": {g: len(pool) for g, pool in zip(data.groups, data.train, strict=True)},
            "rows_by_kind": {
                f"{lang}/{kind}/{role}": n for (lang, kind, role), n in sorted(counts.items())
            },
            "text_windows": config.strategy == "mono",
            "continuation_tokens": audit.max_new_tokens,
        },
        "training": {
            "steps": outcome.steps,
            "best_step": outcome.best_step,
            "stop_reason": outcome.stop_reason,
            "seconds": round(outcome.elapsed_s, 1),
            "criterion": outcome.criterion,
        },
        "weights_over_time": [
            {"step": r["step"], **{g: r[f"weight_{g}"] for g in data.groups}}
            for r in outcome.history
        ],
        "probe": {
            "before": {
                "unfairness_u": first["unfairness_u"],
                "unfairness_u_kl": first["unfairness_u_kl"],
                "mean_cross_entropy": first["mean_cross_entropy"],
                "groups": _group_figures(first, data.groups),
            },
            "after": {
                "unfairness_u": best["unfairness_u"],
                "unfairness_u_kl": best["unfairness_u_kl"],
                "mean_cross_entropy": best["mean_cross_entropy"],
                "groups": _group_figures(best, data.groups),
            },
        },
    }


def _markdown(card: dict) -> str:
    t, before, after = card["training"], card["probe"]["before"], card["probe"]["after"]
    lines = [
        f"# Training card: `{card['strategy']}` drafter",
        "",
        card["description"] + ".",
        "",
        f"- Base drafter: `{card['base_drafter']}`; target (frozen, verified unchanged): "
        f"`{card['target']}`",
        f"- Steps: {t['steps']} ({t['seconds']} s); kept the weights of step {t['best_step']}, "
        f"best by {t['criterion']}. Stopped: {t['stop_reason']}.",
        f"- Probe U: {before['unfairness_u']:.4f} → {after['unfairness_u']:.4f}; mean "
        f"cross-entropy {before['mean_cross_entropy']:.4f} → {after['mean_cross_entropy']:.4f}; "
        f"U on KL {before['unfairness_u_kl']:.4f} → {after['unfairness_u_kl']:.4f}",
        "",
        "Probe figures of the original drafter (before) and of the kept weights (after); "
        "w is the group weight at the kept step.",
        "",
        "| group | training rows | D before | D after | KL before | KL after | α before "
        "| α after | w |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for g in card["data"]["groups"]:
        b, a = before["groups"][g], after["groups"][g]
        lines.append(
            f"| {g} | {card['data']['train_rows'][g]} | {b['cross_entropy']:.3f} | "
            f"{a['cross_entropy']:.3f} | {b['kl']:.3f} | {a['kl']:.3f} | {b['alpha']:.3f} | "
            f"{a['alpha']:.3f} | {a['weight']:.3f} |"
        )
    lines += ["", "Settings:", "", "```json", json.dumps(card["settings"], indent=2), "```", ""]
    return "\n".join(lines)


def write_training_card(out_dir: Path, **parts) -> Path:
    """Write ``training_card.json`` and ``TRAINING_CARD.md``; return the JSON path."""
    card = training_card(**parts)
    path = Path(out_dir) / "training_card.json"
    write_atomic(path, json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    write_atomic(Path(out_dir) / "TRAINING_CARD.md", _markdown(card))
    return path
