"""What the core reads of the configuration: a small frozen record the app builds once
from :class:`~llm_gateway.settings.Settings` and the routing table (the core never sees
the settings)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from llm_gateway.core.limits import FailureMode
from llm_gateway.core.routing import ModelRoute


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    # The routing table's models, each with its resilience policy; the first of each
    # kind is its default.
    models: Sequence[ModelRoute]
    max_prompt_chars: int
    deadline_seconds: float
    max_concurrency: int
    max_queue: int
    queue_timeout_seconds: float
    requests_per_minute: int
    tokens_per_minute: int
    failure_mode: FailureMode
