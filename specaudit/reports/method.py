"""The method and reproducibility section: config, models, settings, versions, definitions.

Read from the run's ``config.yaml`` and ``environment.json`` as plain
mappings (never through the audit package), so that a report can be built
from a run directory copied to a machine without torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from specaudit.reports.definitions import DEFINITIONS
from specaudit.reports.rundata import RunData

__all__ = ["MethodInfo", "ModelInfo", "method_info"]

Pairs = tuple[tuple[str, str], ...]

# Model facts shown first, in this order; any other recorded key follows.
_MODEL_KEYS = (
    "spec",
    "class",
    "kind",
    "revision",
    "commit",
    "weights_fingerprint",
    "parameters",
    "dtype",
)


@dataclass(frozen=True)
class ModelInfo:
    """One model (target or drafter) and its recorded facts."""

    role: str
    facts: Pairs
    identified: bool  # a revision, commit or weights fingerprint was recorded


@dataclass(frozen=True)
class MethodInfo:
    """Everything the method and reproducibility section shows."""

    decoding: Pairs
    machine: Pairs
    models: tuple[ModelInfo, ...]
    packages: Pairs
    statistics: Pairs
    resumes: tuple[str, ...]
    config_yaml: str
    definitions: Pairs
    notes: tuple[str, ...]


def _text(value: Any) -> str:
    if value is None:
        return "not recorded"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) and abs(value) >= 10_000:
        return f"{value:,}"
    return str(value)


def _pairs(source: Mapping[str, Any], keys: tuple[tuple[str, str], ...]) -> Pairs:
    return tuple((label, _text(source.get(key))) for key, label in keys if key in source)


def _models(environment: Mapping[str, Any]) -> tuple[ModelInfo, ...]:
    models = environment.get("models") or {}
    out = []
    for role in ("target", "drafter", *[r for r in models if r not in ("target", "drafter")]):
        facts = models.get(role)
        if not isinstance(facts, Mapping):
            continue
        keys = [k for k in _MODEL_KEYS if k in facts] + [k for k in facts if k not in _MODEL_KEYS]
        identified = any(facts.get(k) for k in ("revision", "commit", "weights_fingerprint"))
        out.append(ModelInfo(role, tuple((k, _text(facts[k])) for k in keys), identified))
    return tuple(out)


def _resumes(environment: Mapping[str, Any]) -> tuple[str, ...]:
    out = []
    for i, resume in enumerate(environment.get("resumes") or (), 1):
        if not isinstance(resume, Mapping):
            continue
        packages = resume.get("packages") or {}
        versions = ", ".join(
            f"{k} {v}" for k, v in packages.items() if k in ("torch", "transformers")
        )
        out.append(
            f"resume {i}: started {_text(resume.get('started'))} on "
            f"{_text(resume.get('device'))}, dtype {_text(resume.get('dtype'))}, "
            f"{_text(resume.get('threads'))} threads" + (f", {versions}" if versions else "")
        )
    return tuple(out)


def method_info(run: RunData) -> MethodInfo:
    """Collect the method section of a run.

    Parameters
    ----------
    run : RunData
        The run directory's metrics, config and environment.

    Returns
    -------
    MethodInfo
    """
    cfg, env, settings = run.config, run.environment, run.result.settings
    decoding = (
        ("γ (draft length)", _text(cfg.get("gamma", settings.gamma))),
        *_pairs(
            cfg,
            (
                ("mode", "decoding mode"),
                ("temperature", "temperature"),
                ("top_k", "top-k"),
                ("top_p", "top-p"),
                ("max_new_tokens", "new tokens per prompt"),
                ("chat_template", "chat template"),
                ("warmup", "warm-up decodes"),
                ("divergence_temperature", "divergence temperature"),
            ),
        ),
        ("seed", _text(env.get("seed", cfg.get("seed")))),
    )
    machine = _pairs(
        env,
        (
            ("device", "device"),
            ("dtype", "dtype"),
            ("cpu", "CPU"),
            ("cpu_count", "CPU cores"),
            ("threads", "threads"),
            ("interop_threads", "inter-op threads"),
            ("python", "Python"),
            ("specaudit", "specaudit"),
            ("platform", "platform"),
            ("started", "started"),
        ),
    )
    packages = tuple((k, _text(v)) for k, v in (env.get("packages") or {}).items())
    statistics = (
        ("reference", settings.reference or f"language {settings.reference_language}"),
        ("confidence level", f"{settings.confidence_level:.0%}"),
        ("bootstrap resamples", _text(settings.n_boot)),
        ("resampling seed", _text(settings.seed)),
        ("minimum prompts per group", _text(settings.min_prompts)),
        ("prompts", _text(run.result.n_prompts)),
    )
    config_yaml = (
        yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True) if cfg else "config.yaml not found"
    )
    return MethodInfo(
        decoding=decoding,
        machine=machine,
        models=_models(env),
        packages=packages,
        statistics=statistics,
        resumes=_resumes(env),
        config_yaml=config_yaml,
        definitions=DEFINITIONS,
        notes=tuple(run.result.notes),
    )
