"""Synthetic run directories for the report tests (records, metrics, config, environment)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from specaudit.languages import BUILTIN_LANGUAGES
from specaudit.metrics import compute_metrics
from specaudit.metrics.synthetic import GroupSpec, synthetic_records

SCRIPT = "<script>alert(1)</script>"
HOSTILE = (
    SCRIPT + " Translate this.",
    "He said \"stop\" & 'go' </pre></details><img src=x onerror=alert(2)>",
    "ترجم الجملة التالية إلى العربية: مرحبا بالعالم، كيف حالك اليوم؟",
    "תרגם את המשפט הבא לעברית: שלום עולם, מה שלומך היום?",
)
OUTPUTS = (
    "The cat sat on the mat while the market woke up. ",
    "Die Katze saß auf der Matte, während der Markt erwachte. ",
    "جلست القطة على الحصيرة بينما استيقظ السوق. ",
    "החתולה ישבה על השטיח בזמן שהשוק התעורר. ",
    "猫はマットの上に座り、市場が目を覚ました。",
)

CONFIG = {
    "target": "demo/target",
    "drafter": "demo/drafter",
    "revision": None,
    "drafter_revision": None,
    "languages": None,
    "tasks": None,
    "split": "eval",
    "n_prompts": 20,
    "gamma": 4,
    "mode": "greedy",
    "temperature": 1.0,
    "top_k": 0,
    "top_p": 1.0,
    "max_new_tokens": 48,
    "seed": 0,
    "device": "auto",
    "dtype": "auto",
    "threads": 1,
    "warmup": 2,
}

ENVIRONMENT = {
    "specaudit": "0.1.0",
    "python": "3.11.7",
    "platform": "Linux-x86_64",
    "packages": {"torch": "2.13.0+cpu", "transformers": "5.23.0", "numpy": "2.4.6"},
    "device": "cpu",
    "device_type": "cpu",
    "dtype": "float32",
    "cpu": "Test CPU",
    "cpu_count": 2,
    "threads": 1,
    "interop_threads": 2,
    "seed": 0,
    "started": "2026-11-22T00:57:06+00:00",
    "models": {
        "target": {
            "spec": "demo/target",
            "class": "LlamaForCausalLM",
            "revision": None,
            "commit": "0123456789abcdef",
            "weights_fingerprint": "sha256-head:89052c25253c6bc8",
            "parameters": 134515008,
        },
        "drafter": {"spec": "demo/drafter", "class": "LlamaForCausalLM", "revision": "main"},
    },
}


def default_specs(
    n_prompts: int = 20, *, languages=BUILTIN_LANGUAGES, tasks=("translation", "story"), shift=0.0
) -> list[GroupSpec]:
    """The default audit's shape: every language x task, Swahili story served worst."""
    specs = []
    for t, task in enumerate(tasks):
        for i, lang in enumerate(languages):
            alpha = 0.8 - 0.025 * i - 0.08 * t + shift * i / max(len(languages) - 1, 1)
            specs.append(
                GroupSpec(
                    lang,
                    task,
                    alpha=min(alpha, 0.95),
                    alpha_spread=0.05,
                    n_prompts=n_prompts,
                    chars_per_token=4.0 - 0.2 * i,
                    draft_forward_s=0.004,
                )
            )
    return specs


def make_run(
    run_dir: Path,
    specs: list[GroupSpec] | None = None,
    *,
    seed: int = 0,
    n_boot: int = 200,
    write_metrics: bool = True,
) -> Path:
    """Write a run directory from synthetic records with hostile, multilingual texts."""
    specs = specs if specs is not None else default_specs()
    records = synthetic_records(specs, seed=seed)
    for i, record in enumerate(records):
        record["prompt"] = f"{HOSTILE[i % len(HOSTILE)]} (prompt {i})"
        text = OUTPUTS[i % len(OUTPUTS)]
        record["output_text"] = (text * (1 + record["output_chars"] // len(text)))[
            : record["output_chars"]
        ]
    run_dir.mkdir(parents=True, exist_ok=True)
    with (run_dir / "records.jsonl").open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    (run_dir / "config.yaml").write_text(yaml.safe_dump(CONFIG, sort_keys=False))
    (run_dir / "environment.json").write_text(json.dumps(ENVIRONMENT, indent=2))
    if write_metrics:
        compute_metrics(records, n_boot=n_boot).write(run_dir)
    return run_dir
