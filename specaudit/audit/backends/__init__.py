"""Serving-engine backends: audit what vLLM (or an OpenAI-compatible server) serves.

Each backend turns a serving engine's per-request speculative counters into
the same :class:`~specaudit.records.PromptRecord` lines as the native engine
(:mod:`.completion`), so metrics, reports and the gate run unchanged. vLLM is
imported lazily, inside :mod:`.vllm_engine` only: the rest of specaudit never
needs it (see ``docs/serving.md``).
"""
