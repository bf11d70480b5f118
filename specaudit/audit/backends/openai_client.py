"""The ``openai`` backend: audit a running OpenAI-compatible server.

Requests go to ``/v1/completions`` with the prompt as token ids, so server
and specaudit see the same tokens. Per-request speculative counters are read
from the response:

- vLLM (``--per-request-spec-decode-metrics detailed``):
  ``metrics.speculative_decoding.per_step_drafted`` and ``per_step_accepted``;
- SGLang (``meta_info.spec_accept_length``, ``spec_verify_ct``) and llama.cpp
  (``timings.draft_n``, ``draft_n_accepted``) report per-request totals only,
  which cannot be split into steps without guessing; they are recognised and
  refused with a message saying so.

Times are measured here, around each request (the server's own timing fields
are often empty). Every request has a timeout and is retried; a server that
keeps failing raises :class:`~specaudit.audit.backends.run.BackendUnavailable`.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from specaudit.audit.backends.completion import Completion
from specaudit.audit.backends.run import BackendUnavailable
from specaudit.audit.backends.spec_config import LOOKUP_METHODS
from specaudit.audit.config import RunConfig
from specaudit.errors import UserInputError

__all__ = ["OpenAIBackend", "parse_spec_counts"]

#: How each engine turns per-request speculative metrics on.
METRICS_FLAGS = (
    "vLLM: --per-request-spec-decode-metrics detailed; "
    "SGLang and llama.cpp report totals only (not supported)"
)


def parse_spec_counts(body: dict[str, Any]) -> tuple[list[int], list[int]] | None:
    """Per-step (drafted, accepted) counts from a completion response, or ``None``.

    Raises
    ------
    UserInputError
        If the response carries only an engine's per-request totals
        (SGLang, llama.cpp), which do not say how each step went.
    """
    choice = (body.get("choices") or [{}])[0]
    for holder in (body, choice):
        spec = (holder.get("metrics") or {}).get("speculative_decoding")
        if spec and spec.get("per_step_drafted") is not None:
            return list(spec["per_step_drafted"]), list(spec["per_step_accepted"])
    meta = body.get("meta_info") or choice.get("meta_info") or {}
    timings = body.get("timings") or {}
    if "spec_accept_length" in meta or "draft_n" in timings:
        engine = "SGLang" if "spec_accept_length" in meta else "llama.cpp"
        raise UserInputError(
            f"the server ({engine}) reports speculative totals per request, not per step; "
            "specaudit needs per-step counts (vLLM with --per-request-spec-decode-metrics detailed)"
        )
    return None


class OpenAIBackend:
    """Speculative requests to ``base_url``; plain ones to ``baseline_url`` if given.

    Parameters
    ----------
    config : RunConfig
        ``base_url``, ``baseline_url``, ``request_timeout``, ``retries``,
        ``concurrency``, the decoding options and ``target`` (the tokenizer;
        default: the served model's name, when it is a path or hub id).
    """

    def __init__(self, config: RunConfig) -> None:
        from specaudit.audit.loading import load_tokenizer

        self.config = config
        self.urls = {True: config.base_url.rstrip("/")}
        if config.baseline_url:
            self.urls[False] = config.baseline_url.rstrip("/")
        self.models = {spec: self._model_name(url) for spec, url in self.urls.items()}
        self.tokenizer = load_tokenizer(
            config.target or self.models[True],
            revision=config.revision,
            trust_remote_code=config.trust_remote_code,
        )
        self.device_name = f"server {self.urls[True]}"
        self.neural_drafter = config.spec_method not in LOOKUP_METHODS
        self._pool = ThreadPoolExecutor(max_workers=config.concurrency)

    def describe(self) -> dict:
        """Server URLs and served model names."""
        return {
            "server": {"base_url": self.urls[True], "model": self.models[True]},
            "baseline_server": {"base_url": self.urls[False], "model": self.models[False]}
            if False in self.urls
            else None,
        }

    def has_baseline(self) -> bool:
        """Plain decodes exist only with ``--baseline-url``."""
        return False in self.urls

    def close(self) -> None:
        """Stop the request threads."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _call(self, url: str, payload: dict | None = None) -> dict:
        """GET (no payload) or POST JSON with timeout and retries; the parsed body."""
        data = None if payload is None else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        last = ""
        for attempt in range(self.config.retries + 1):
            if attempt:
                time.sleep(min(2.0**attempt * 0.25, 5.0))
            request = urllib.request.Request(url, data=data, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=self.config.request_timeout) as r:
                    return json.loads(r.read())
            except urllib.error.HTTPError as err:
                detail = err.read()[:200].decode(errors="replace")
                if err.code < 500:  # the request itself is wrong: retrying cannot help
                    raise UserInputError(f"{url}: HTTP {err.code}: {detail}") from None
                last = f"HTTP {err.code}"
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as err:
                last = str(getattr(err, "reason", err)) or type(err).__name__
            except json.JSONDecodeError:
                last = "response is not JSON"
        tries = self.config.retries + 1
        raise BackendUnavailable(f"server {url} failed {tries} time(s): {last}")

    def _model_name(self, base: str) -> str:
        models = self._call(f"{base}/v1/models").get("data") or []
        if not models:
            raise UserInputError(f"server {base} serves no model (/v1/models is empty)")
        return models[0]["id"]

    def _payload(self, ids: list[int], speculative: bool, seed: int) -> dict:
        c = self.config
        payload = {
            "model": self.models[speculative],
            "prompt": ids,
            "max_tokens": c.max_new_tokens,
            "return_token_ids": True,
        }
        if c.mode == "greedy":
            payload["temperature"] = 0.0
        else:
            payload.update(temperature=c.temperature, top_p=c.top_p, seed=seed % (1 << 31))
            if c.top_k:
                payload["top_k"] = c.top_k
        return payload

    def _one(self, ids: list[int], speculative: bool, seed: int) -> Completion:
        url = f"{self.urls[speculative]}/v1/completions"
        start = time.perf_counter()
        body = self._call(url, self._payload(ids, speculative, seed))
        total = time.perf_counter() - start
        choice = body["choices"][0]
        text = choice.get("text", "")
        out_ids = choice.get("token_ids")
        if out_ids is None:  # servers without return_token_ids: re-encode the text
            out_ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        drafted = accepted = None
        if speculative:
            counts = parse_spec_counts(body)
            if counts is None:
                raise UserInputError(
                    f"server {self.urls[True]} returned no per-request speculative metrics; "
                    f"turn them on ({METRICS_FLAGS})"
                )
            drafted, accepted = counts
        ttft = ((body.get("metrics") or {}).get("time_to_first_token_ms")) or None
        return Completion(
            output_ids=list(out_ids),
            text=text,
            finish_reason="max_new_tokens" if choice.get("finish_reason") == "length" else "eos",
            total_s=total,
            prefill_s=ttft / 1000 if ttft else None,
            drafted=drafted,
            accepted=accepted,
        )

    def generate(
        self, batch: Sequence[list[int]], *, speculative: bool, seeds: Sequence[int]
    ) -> list[Completion]:
        """Send ``batch`` concurrently (``--concurrency`` requests in flight)."""
        futures = [
            self._pool.submit(self._one, ids, speculative, seed)
            for ids, seed in zip(batch, seeds, strict=True)
        ]
        return [f.result() for f in futures]
