"""The resolved configuration of an audit run.

A YAML file (``--config``) and the CLI flags map onto the same fields; flags
override the file, the file overrides the defaults. The resolved config is
written next to the results as ``config.yaml``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from specaudit.errors import MODEL_PAIR_MESSAGE, UserInputError, validation_line

__all__ = ["RunConfig", "check_model_pair", "load_config"]


class RunConfig(BaseModel):
    """Everything that determines an audit's records (timings aside)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Models. None means the built-in demo pair.
    target: str | None = None  #: target model: hub id, local directory or .gguf file
    drafter: str | None = None  #: drafter: as target, or ngram:PATH
    revision: str | None = None  #: target revision (hub branch, tag or commit)
    drafter_revision: str | None = None  #: drafter revision
    trust_remote_code: bool = False  #: run code shipped with checkpoints; off unless asked
    allow_pickle: bool = False  #: accept pickled .bin weights; safetensors only by default

    # Prompts. An empty list means the built-in sets.
    prompts: list[str] = Field(default_factory=list)  #: prompt JSONL files or directories
    languages: list[str] | None = None  #: language codes, e.g. en,de,sw; default: all
    tasks: list[str] | None = None  #: tasks, e.g. translation,story; default: all
    split: str | None = "eval"  #: prompt split to audit (rows without a split are always kept)
    n_prompts: int | None = Field(20, ge=1)  #: prompts per (language, task) group
    chat_template: bool = False  #: wrap prompts as a user message with the target's template
    system_prompt: str | None = None  #: system message when chat_template is on

    # Decoding.
    gamma: int = Field(4, ge=1)  #: draft length per step
    routing: str | None = None  #: routing file: a drafter and gamma per group (`specaudit tune`)
    mode: Literal["greedy", "sampling"] = "greedy"  #: greedy runs are checked for losslessness
    temperature: float = Field(1.0, gt=0)  #: sampling only
    top_k: int = Field(0, ge=0)  #: sampling only; 0 disables
    top_p: float = Field(1.0, gt=0, le=1)  #: sampling only; 1.0 disables
    max_new_tokens: int = Field(48, ge=1)  #: per prompt, both decodes
    first_token: Literal["draft", "prefill"] = "draft"  #: first token by a step or the prefill
    divergence_temperature: float = Field(1.0, gt=0)  #: for per-position alpha, CE and KL

    # Execution.
    seed: int = 0  #: per-prompt seeds derive from this and the prompt id
    device: str = "auto"  #: auto, cpu, cuda or cuda:N
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"  #: of weights and compute
    threads: int | None = Field(None, ge=1)  #: CPU threads for torch; default: all cores but one
    warmup: int = Field(2, ge=0)  #: untimed warm-up decodes before the first prompt
    repeats: int = Field(1, ge=1)  #: timings per prompt; each decode keeps the median
    timing: Literal["interleaved", "sequential"] = "interleaved"  #: decodes by step or in turn
    retime: int = Field(3, ge=0)  #: re-timings of a prompt at most, in all; 0 turns them off

    # Backend (docs/serving.md). "native" is specaudit's own engine; the others
    # read per-request acceptance counts from a serving engine.
    backend: Literal["native", "vllm", "openai"] = "native"  #: who decodes
    speculative_config: dict[str, Any] | None = None  #: vLLM speculative_config, passed as given
    spec_method: str | None = None  #: shorthand: draft_model, ngram, eagle, eagle3, mtp, suffix
    concurrency: int = Field(1, ge=1)  #: requests in flight at once (serving backends)
    base_url: str | None = None  #: openai backend: the speculative server
    baseline_url: str | None = None  #: openai backend: a plain server for the baseline
    request_timeout: float = Field(300.0, gt=0)  #: openai backend: seconds per request
    retries: int = Field(2, ge=0)  #: openai backend: retries of a failed request

    @model_validator(mode="after")
    def _chat_needs_template(self) -> RunConfig:
        if self.system_prompt is not None and not self.chat_template:
            raise ValueError("system_prompt needs chat_template: true")
        return self

    @model_validator(mode="after")
    def _backend_options(self) -> RunConfig:
        if self.backend == "openai" and self.base_url is None:
            raise ValueError("backend openai needs base_url (--base-url)")
        if self.backend != "openai" and (self.base_url or self.baseline_url):
            raise ValueError("base_url and baseline_url need backend openai (--backend openai)")
        serving_only = {
            "speculative_config": self.speculative_config is not None,
            "spec_method": self.spec_method is not None,
            "concurrency": self.concurrency != 1,
        }
        if self.backend == "native" and any(serving_only.values()):
            name = next(k for k, v in serving_only.items() if v)
            raise ValueError(f"{name} needs a serving backend (--backend vllm or openai)")
        if self.backend != "native" and self.routing is not None:
            raise ValueError("routing needs the native backend (a serving engine has one drafter)")
        return self

    @model_validator(mode="after")
    def _routing_names_drafters(self) -> RunConfig:
        if self.routing is not None and self.drafter is not None:
            raise ValueError("routing names the drafters; drop drafter (or routing)")
        return self


def load_config(path: str | Path | None, overrides: dict[str, Any]) -> RunConfig:
    """Merge defaults, a YAML file and flag overrides into a validated config.

    Parameters
    ----------
    path : path or None
        YAML file with any :class:`RunConfig` fields.
    overrides : dict
        Flag values; ``None`` entries mean "not given" and are skipped.

    Raises
    ------
    UserInputError
        For an unreadable file, bad YAML, unknown fields or invalid values.
    """
    data: dict[str, Any] = {}
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as err:
            raise UserInputError(f"cannot read config {path}: {err.strerror}") from None
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise UserInputError(
                f"config {path} is not valid YAML: {err}".splitlines()[0]
            ) from None
        if loaded is not None and not isinstance(loaded, dict):
            raise UserInputError(f"config {path} must be a mapping of field: value")
        data.update(loaded or {})
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return RunConfig.model_validate(data)
    except ValidationError as err:
        where = f"config {path}" if path else "options"
        line = validation_line(err.errors(), allowed=RunConfig.model_fields)
        raise UserInputError(f"invalid {where}: {line}") from None


def check_model_pair(config: RunConfig) -> None:
    """Refuse a target without a drafter, or a drafter without a target.

    Raises
    ------
    UserInputError
        With :data:`specaudit.errors.MODEL_PAIR_MESSAGE`.
    """
    if (config.target is None) != (config.drafter is None):
        raise UserInputError(MODEL_PAIR_MESSAGE)
