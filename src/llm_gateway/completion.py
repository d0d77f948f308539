"""The internal request both doors are turned into, and what the upstream hands back."""

from __future__ import annotations

from dataclasses import dataclass, field

from llm_gateway.metrics import Endpoint


@dataclass(slots=True, frozen=True)
class CompletionRequest:
    """One chat completion, whichever endpoint it came through."""

    request_id: str
    endpoint: Endpoint
    model: str
    messages: list[dict[str, str]]
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] | None = None
    seed: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    stream: bool = False
    # The API key alias the request came with; None when keys are off.
    client: str | None = None
    # X-Simulator-* headers, forwarded only when the upstream is the simulator.
    simulator_headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(slots=True, frozen=True)
class Completion:
    model: str  # the model that answered: the requested one, or a fallback
    text: str
    finish_reason: str | None
    usage: Usage


@dataclass(slots=True, frozen=True)
class Chunk:
    """A piece of a stream: some text, or the end (finish_reason and usage, when known)."""

    text: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None
