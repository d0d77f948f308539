"""The core's vocabulary: the internal request both doors are turned into, what the
upstream hands back, and the small fixed sets every metric label and error reason comes
from. Imports nothing of the gateway's, so errors, metrics and the load generator can
share it."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Endpoint(enum.StrEnum):
    """The gateway door a request came through."""

    GENERATE = "generate"
    CHAT_COMPLETIONS = "chat_completions"


class Outcome(enum.StrEnum):
    """How a request toward the upstream ended."""

    SUCCESS = "success"
    ERROR = "error"
    CANCELLED = "cancelled"
    # Turned away by the gateway itself: load shedding or a client's rate limit.
    REJECTED = "rejected"


class ShedReason(enum.StrEnum):
    """Why the concurrency limiter turned a request away."""

    QUEUE_FULL = "queue_full"
    QUEUE_TIMEOUT = "queue_timeout"


class AuthFailure(enum.StrEnum):
    MISSING = "missing"
    INVALID = "invalid"


class RateLimit(enum.StrEnum):
    """Which per-key budget a request exceeded."""

    REQUESTS = "requests"
    TOKENS = "tokens"


class StoreOperation(enum.StrEnum):
    """A round trip to the rate-limit store: admit a request, or settle its tokens."""

    TAKE = "take"
    GIVE = "give"


class StoreFailure(enum.StrEnum):
    """Why a round trip to the rate-limit store failed."""

    TIMEOUT = "timeout"
    CONNECTION = "connection"
    ERROR = "error"


class EndpointOutcome(enum.StrEnum):
    """How one request to one pool endpoint went, as far as the endpoint's health goes."""

    SUCCESS = "success"  # any status below 500, 429 included: the endpoint answered
    SERVER_ERROR = "server_error"
    CONNECTION = "connection"
    TIMEOUT = "timeout"


class ErrorReason(enum.StrEnum):
    """Why an upstream call failed."""

    RATE_LIMITED = "rate_limited"
    TIMEOUT = "timeout"
    SERVER_ERROR = "server_error"
    CONNECTION = "connection"
    BAD_RESPONSE = "bad_response"
    RESPONSE_TOO_LARGE = "response_too_large"
    CLIENT_ERROR = "client_error"


@dataclass(slots=True, frozen=True)
class CompletionRequest:
    """One chat completion, whichever endpoint it came through, as the client asked for it.

    ``model`` is the name the client sent (None: the default); the core resolves it, and
    each upstream attempt is handed the model id it is for.
    """

    request_id: str
    endpoint: Endpoint
    model: str | None
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

    @property
    def prompt_chars(self) -> int:
        return sum(len(message["content"]) for message in self.messages)


@dataclass(slots=True, frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(slots=True, frozen=True)
class Price:
    """What a model's tokens cost, in USD per million prompt and completion tokens."""

    prompt: float
    completion: float

    def cost(self, usage: Usage) -> float:
        """The USD an answer with `usage` costs at this price: an estimate, since the
        upstream's own billing (rounding, minimums, cached tokens) is not known here."""
        return (usage.prompt_tokens * self.prompt + usage.completion_tokens * self.completion) / 1e6


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
