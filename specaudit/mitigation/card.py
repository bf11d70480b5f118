"""The training card: what a retrained drafter learned from, and how it ended."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from specaudit.atomic import write_atomic
from specaudit.audit.config import RunConfig
from specaudit.metrics import MetricsResult
from specaudit.mitigation.config import MitigationConfig
from specaudit.mitigation.continuations import TrainingRow
from specaudit.mitigation.trainer import TrainingData, TrainingOutcome

__all__ = ["add_audit_figures", "training_card", "write_training_card"]

#: Audit figures the card reports beside the objective's, from ``metrics.json``.
_AUDIT_FIGURES = (
    "unfairness_u",
    "unfairness_u_entropy",
    "unfairness_u_kl",
    "unfairness_u_covariance",
    "unfairness_u_tv",
)

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


def _group_unit(config: MitigationConfig, groups: Sequence[str]) -> str:
    if all("/" in g for g in groups):
        return (
            "(language, kind) groups, kind = translation (an audit task) or text (monolingual "
            "text standing in for the held-out story task); weights and probes are per group"
        )
    return (
        f"languages: the {config.strategy} strategy's training data cannot be split by task, "
        "so it weights and probes languages, while the audit's U is over (language, task) "
        "groups; compare the objective's U with the audit's U below"
    )


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
            "group_unit": _group_unit(config, data.groups),
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
                **_probe_u(first),
                "mean_cross_entropy": first["mean_cross_entropy"],
                "groups": _group_figures(first, data.groups),
            },
            "after": {
                **_probe_u(best),
                "mean_cross_entropy": best["mean_cross_entropy"],
                "groups": _group_figures(best, data.groups),
            },
        },
    }


def _probe_u(row: dict) -> dict:
    """Return the objective's U and its parts at one probe evaluation (None if not logged)."""
    names = ("unfairness_u", "unfairness_u_kl", "unfairness_u_entropy", "unfairness_u_tv")
    return {name: row.get(name) for name in names}


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4f}"


def _audit_lines(card: dict) -> list[str]:
    audit = card.get("audit")
    if not audit:
        return []
    b, a = audit["before"], audit["after"]
    lines = [
        "",
        "## The audit's U beside the objective's",
        "",
        "Follow-up audits on held-out prompts, over the audit's (language, task) groups "
        "(the probe figures above are over the training groups).",
        "",
        "| figure | before | after |",
        "|---|---:|---:|",
    ]
    labels = {
        "unfairness_u": "U",
        "unfairness_u_entropy": "Var(H), the target's own entropy",
        "unfairness_u_kl": "U on KL, the drafter's part",
        "unfairness_u_covariance": "2 Cov(H, KL)",
        "unfairness_u_tv": "U on total variation",
    }
    for name, label in labels.items():
        lines.append(f"| {label} | {_fmt(b[name])} | {_fmt(a[name])} |")
    floored = sorted(set(b["floor_dominated"]) | set(a["floor_dominated"]))
    if floored:
        lines += [
            "",
            f"Cross-entropy figures are floor-dominated for {', '.join(floored)}: read U on "
            "total variation (docs/method.md#floor).",
        ]
    return lines


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
        f"- Groups: {card['data']['group_unit']}.",
        f"- Probe U: {_fmt(before['unfairness_u'])} → {_fmt(after['unfairness_u'])}; mean "
        f"cross-entropy {before['mean_cross_entropy']:.4f} → {after['mean_cross_entropy']:.4f}; "
        f"U on KL {_fmt(before['unfairness_u_kl'])} → {_fmt(after['unfairness_u_kl'])}; "
        f"Var(H) {_fmt(before['unfairness_u_entropy'])} → {_fmt(after['unfairness_u_entropy'])}",
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
    lines += _audit_lines(card)
    lines += ["", "Settings:", "", "```json", json.dumps(card["settings"], indent=2), "```", ""]
    return "\n".join(lines)


def _write(out_dir: Path, card: dict) -> Path:
    path = Path(out_dir) / "training_card.json"
    write_atomic(path, json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    write_atomic(Path(out_dir) / "TRAINING_CARD.md", _markdown(card))
    return path


def write_training_card(out_dir: Path, **parts) -> Path:
    """Write ``training_card.json`` and ``TRAINING_CARD.md``; return the JSON path."""
    return _write(out_dir, training_card(**parts))


def add_audit_figures(card_path: Path, before: MetricsResult, after: MetricsResult) -> Path:
    """Add the follow-up audits' U and its parts to a written card, beside the objective's.

    The objective's U is over the training groups (probe rows); the audit's
    is over its (language, task) groups on held-out prompts
    (``docs/method.md#groups``).
    """
    card = json.loads(Path(card_path).read_text(encoding="utf-8"))

    def figures(result: MetricsResult) -> dict:
        d = result.disparity
        out = {name: getattr(d, name).estimate for name in _AUDIT_FIGURES}
        return {**out, "groups": list(d.groups), "floor_dominated": list(d.floor_dominated)}

    card["audit"] = {"before": figures(before), "after": figures(after)}
    return _write(Path(card_path).parent, card)
