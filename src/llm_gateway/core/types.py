"""The core's vocabulary: the internal requests every door is turned into, the door and
the outcome they are labelled with, and what the upstream hands back. Imports nothing of
the gateway's, so metrics and the load generator can share it."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Endpoint(enum.StrEnum):
    """The gateway door a request came through."""

    GENERATE = "generate"
    CHAT_COMPLETIONS = "chat_completions"
    COMPLETIONS = "completions"
    EMBEDDINGS = "embeddings"
    MESSAGES = "messages"
    RESPONSES = "responses"


class ModelKind(enum.StrEnum):
    """What a configured model does: generate text, or embed it."""

    CHAT = "chat"
    EMBEDDING = "embedding"


class Outcome(enum.StrEnum):
    """How a request toward the upstream ended."""

    SUCCESS = "success"
    ERROR = "error"
    CANCELLED = "cancelled"
    # Turned away by the gateway itself: load shedding or a client's rate limit.
    REJECTED = "rejected"


class FallbackReason(enum.StrEnum):
    """Why an attempt went to another model than the one before it."""

    ERROR = "error"  # the one before kept failing
    CIRCUIT_OPEN = "circuit_open"  # the one before is skipped while its circuit is open
    CONTEXT_WINDOW = "context_window"  # the prompt is too long for the one before
    CONTENT_POLICY = "content_policy"  # the one before refused it by its content policy
    CONTINUATION = "continuation"  # the stream broke; another model continues it


@dataclass(slots=True, frozen=True)
class Origin:
    """Who asked: the HTTP request an internal request came from.

    ``client`` is the API key alias it came with (None when keys are off);
    ``simulator_headers`` the X-Simulator-* headers it sent, forwarded only when the
    upstream is the simulator.
    """

    request_id: str
    client: str | None = None
    simulator_headers: Mapping[str, str] = field(default_factory=dict)


class Asked:
    """What every internal request reads from its origin."""

    __slots__ = ()
    origin: Origin

    @property
    def request_id(self) -> str:
        return self.origin.request_id

    @property
    def client(self) -> str | None:
        return self.origin.client


@dataclass(slots=True, frozen=True)
class CompletionTask(Asked):
    """One completion, whichever endpoint it came through, as the client asked for it.

    ``model`` is the name the client sent (None: the default); the core resolves it, and
    each upstream attempt is handed the model id it is for. A chat request carries
    ``messages`` (as sent upstream: the developer role already turned into system); a
    legacy text completion carries ``prompt`` instead. ``extra`` holds the fields the
    gateway does not know, passed to the upstream unchanged.
    """

    origin: Origin
    endpoint: Endpoint
    model: str | None
    messages: list[dict[str, Any]] = field(default_factory=list)
    prompt: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] | None = None
    seed: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    logit_bias: dict[str, float] | None = None
    n: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    stream: bool = False

    @property
    def kind(self) -> ModelKind:
        return ModelKind.CHAT

    @property
    def prompt_chars(self) -> int:
        """The characters of text the upstream reads: the prompt, or every message's text
        and tool-call arguments (tool definitions are bounded by the body size alone)."""
        if self.prompt is not None:
            return len(self.prompt)
        return sum(_message_chars(message) for message in self.messages)


def _message_chars(message: dict[str, Any]) -> int:
    content = message.get("content")
    if isinstance(content, str):
        chars = len(content)
    else:
        chars = sum(len(part.get("text") or "") for part in content or ())
    for call in message.get("tool_calls") or ():
        chars += len(call["function"]["arguments"])
    return chars


EmbeddingInput = str | list[str] | list[int] | list[list[int]]


@dataclass(slots=True, frozen=True)
class EmbeddingTask(Asked):
    """One embeddings request: texts, or token ids, to turn into vectors."""

    origin: Origin
    model: str | None
    input: EmbeddingInput
    dimensions: int | None = None
    endpoint: Endpoint = Endpoint.EMBEDDINGS
    stream: bool = False

    @property
    def kind(self) -> ModelKind:
        return ModelKind.EMBEDDING

    @property
    def inputs(self) -> list[str] | list[list[int]]:
        """The inputs as a batch: texts, or lists of token ids."""
        if isinstance(self.input, str):
            return [self.input]
        if self.input and isinstance(self.input[0], int):
            return [self.input]
        return self.input  # type: ignore[return-value]

    @property
    def prompt_chars(self) -> int:
        return sum(len(item) for item in self.inputs)

    @property
    def prompt_tokens(self) -> int:
        """Token ids count themselves; text is counted as words and punctuation marks,
        an estimate (embedding servers report no usage), the simulator's exact count."""
        return sum(
            len(TOKEN_PATTERN.findall(item)) if isinstance(item, str) else len(item)
            for item in self.inputs
        )


# Words and punctuation marks: how embedding prompts are counted (see EmbeddingTask).
TOKEN_PATTERN = re.compile(r"\w+|[^\w\s]")


# Characters per token of an estimate: OpenAI's rule of thumb for English text.
CHARS_PER_TOKEN = 4


def estimate_tokens(chars: int) -> int:
    """The tokens of ``chars`` characters of text the upstream counted none for: one per
    four characters, rounded up, so no text is 0 tokens and any text at least 1."""
    return -(-chars // CHARS_PER_TOKEN)


@dataclass(slots=True, frozen=True)
class TokenUsage:
    prompt_tokens: int
    completion_tokens: int
    # Counts the gateway estimated (estimate_tokens), the upstream having reported none.
    prompt_estimated: bool = False
    completion_estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @classmethod
    def settled(
        cls, reported: TokenUsage | None, prompt_chars: int, completion_chars: int, pieces: int = 0
    ) -> TokenUsage:
        """The usage to count: the upstream's, where it reported a count for text that has
        any; the rest estimated. ``pieces``: stream frames that carried text, each at
        least one token, so a completion is never estimated below them."""
        prompt = reported.prompt_tokens if reported is not None else 0
        completion = reported.completion_tokens if reported is not None else 0
        prompt_estimated = not prompt and prompt_chars > 0
        completion_estimated = not completion and (completion_chars > 0 or pieces > 0)
        if reported is not None and not (prompt_estimated or completion_estimated):
            return reported
        return cls(
            estimate_tokens(prompt_chars) if prompt_estimated else prompt,
            max(pieces, estimate_tokens(completion_chars)) if completion_estimated else completion,
            prompt_estimated or (reported is not None and reported.prompt_estimated),
            completion_estimated or (reported is not None and reported.completion_estimated),
        )


@dataclass(slots=True, frozen=True)
class GeneratedToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as OpenAI sends it


@dataclass(slots=True, frozen=True)
class GeneratedChoice:
    """One generated answer; ``logprobs`` is the upstream's, in OpenAI's shape."""

    index: int
    text: str | None
    finish_reason: str | None
    tool_calls: tuple[GeneratedToolCall, ...] = ()
    logprobs: dict[str, Any] | None = None


@dataclass(slots=True, frozen=True)
class Price:
    """What a model's tokens cost, in USD per million prompt and completion tokens."""

    prompt: float
    completion: float

    def cost(self, usage: TokenUsage) -> float:
        """The USD an answer with `usage` costs at this price: an estimate, since the
        upstream's own billing (rounding, minimums, cached tokens) is not known here."""
        return (usage.prompt_tokens * self.prompt + usage.completion_tokens * self.completion) / 1e6


@dataclass(slots=True, frozen=True)
class Completion:
    model: str  # the model that answered: the requested one, or a fallback
    choices: tuple[GeneratedChoice, ...]
    usage: TokenUsage
    response_id: str | None = None  # the upstream's id for the answer, when it gives one

    @property
    def text(self) -> str:
        return self.choices[0].text or ""

    @property
    def finish_reason(self) -> str | None:
        return self.choices[0].finish_reason

    @property
    def tool_calls(self) -> int:
        return sum(len(choice.tool_calls) for choice in self.choices)


@dataclass(slots=True, frozen=True)
class ToolCallPiece:
    """A piece of a streamed tool call: the first of a call carries its id and name, the
    rest pieces of its arguments. None: absent from the frame (never sent as null)."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str | None = None


@dataclass(slots=True)
class Chunk:
    """A piece of a stream: some text or tool-call pieces of choice ``index``, or the end
    (finish_reason and usage, when known).

    Made once a token, so not frozen: a frozen dataclass sets each field through
    ``object.__setattr__``, which made one cost three times as much (1.2 us against 0.4).
    Nothing changes a chunk once made; :func:`dataclasses.replace` makes another.
    """

    text: str = ""
    finish_reason: str | None = None
    usage: TokenUsage | None = None
    index: int = 0
    tool_calls: tuple[ToolCallPiece, ...] = ()
    logprobs: dict[str, Any] | None = None
    # An unreadable frame the upstream sent, passed over (and counted) instead of relayed.
    skipped: bool = False

    @property
    def content(self) -> bool:
        """Anything to relay: text, tool calls, the end (an empty chunk tells only that
        the upstream's answer began)."""
        return bool(self.text or self.tool_calls or self.finish_reason is not None or self.usage)


@dataclass(slots=True, frozen=True)
class Embeddings:
    model: str
    # One per input: float32 values, little-endian, as OpenAI's base64 encoding holds them.
    vectors: tuple[bytes, ...]
    usage: TokenUsage


# What an upstream's stream yields first, once the upstream's answer began (its headers
# are in): the core's header timeout ends there, its first-token timeout goes on.
ACCEPTED = Chunk()
# An unreadable frame an upstream's stream passed over.
SKIPPED_FRAME = Chunk(skipped=True)
