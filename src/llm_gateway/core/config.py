"""What the core reads of the configuration: a small frozen record the app builds once
from :class:`~llm_gateway.settings.Settings` (the core never sees the settings)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from llm_gateway.core.limits import FailureMode
from llm_gateway.core.retry import RetryPolicy
from llm_gateway.core.types import Price


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    # Alias → model id, by kind; the first of each is the default.
    chat_models: Mapping[str, str]
    embedding_models: Mapping[str, str]
    # Chat model ids tried, in order, once the requested one has failed.
    fallback_models: Sequence[str]
    max_prompt_chars: int
    deadline_seconds: float
    retry: RetryPolicy
    max_concurrency: int
    max_queue: int
    queue_timeout_seconds: float
    requests_per_minute: int
    tokens_per_minute: int
    failure_mode: FailureMode
    prices: Mapping[str, Price]
