"""Server-Sent Events: the framing, the frames of the three stream shapes, and the response.

Framing is ``data: {json}\\n\\n``, always closed by ``data: [DONE]``. A stream's frames
differ only in their token text, finish reason and usage, so each stream encodes its
envelope (id, created, model) once and each frame JSON-encodes only its text. Building a
pydantic model per token and dumping it cost more than relaying the token. The bytes are
exactly what ``frame(model.model_dump(exclude_none=True))`` of
:class:`~llm_gateway.protocol.ChatCompletionChunk`,
:class:`~llm_gateway.protocol.TextCompletion` and
:class:`~llm_gateway.protocol.GenerateStreamEvent` give (tested), so those models stay the
documented wire shape: a key whose value would be null is left out, never sent as null,
but for the keys OpenAI's schemas require in every frame: a choice's ``finish_reason``
(null until its last frame), and a legacy completion choice's ``logprobs``.
Chunks with tool calls, log probabilities or another choice than the first take a slower
path that builds the choice as a dict.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from json.encoder import encode_basestring_ascii
from typing import Any, Protocol

from fastapi.responses import StreamingResponse

from llm_gateway import protocol
from llm_gateway.core.types import Chunk, TokenUsage, ToolCallPiece
from llm_gateway.errors import GatewayError
from llm_gateway.routes.stream_response import Closable, EventStreamResponse

_encode = json.JSONEncoder(separators=(",", ":")).encode
# A string as JSON, as _encode writes one, without the Python frame of its method: once
# a token.
_quoted = encode_basestring_ascii
_END = b"\n\n"
MEDIA_TYPE = "text/event-stream"
DONE = b"data: [DONE]\n\n"
# Proxies such as nginx buffer responses unless told not to; a buffered stream has no
# time to first token.
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def frame(payload: dict[str, Any]) -> bytes:
    return b"data: " + _encode(payload).encode() + _END


def _usage(usage: TokenUsage) -> bytes:
    return b'{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}' % (
        usage.prompt_tokens,
        usage.completion_tokens,
        usage.total_tokens,
    )


# OpenAI's chunk schemas require finish_reason in every choice, null until its end.
_NO_REASON = b',"finish_reason":null'


def _finish_reason(reason: str | None, absent: bytes = b"") -> bytes:
    return absent if reason is None else b',"finish_reason":' + _encode(reason).encode()


class ChatFrames:
    """``ChatCompletionChunk`` frames of one stream."""

    __slots__ = ("_prefix",)

    def __init__(self, completion_id: str, created: int, model: str) -> None:
        self._prefix = _prefix(completion_id, "chat.completion.chunk", created, model)

    def opening(self, choices: int = 1) -> bytes:
        return b"".join(
            self._prefix
            + b'[{"index":%d,"delta":{"role":"assistant","content":""},"finish_reason":null}]}'
            % index
            + _END
            for index in range(choices)
        )

    def content(self, chunk: Chunk) -> bytes:
        if chunk.index or chunk.tool_calls or chunk.logprobs is not None:  # not plain text
            return self._prefix + _encode([_chat_choice(chunk)]).encode() + b"}" + _END
        # One formatting, not six concatenations: once a token.
        return b'%s[{"index":0,"delta":{"content":%s}%s}]}%s' % (
            self._prefix,
            _quoted(chunk.text).encode(),
            _finish_reason(chunk.finish_reason, _NO_REASON),
            _END,
        )

    def usage(self, usage: TokenUsage) -> bytes:
        return self._prefix + b'[],"usage":' + _usage(usage) + b"}" + _END


def _prefix(completion_id: str, kind: str, created: int, model: str) -> bytes:
    return b'data: {"id":%s,"object":"%s","created":%d,"model":%s,"choices":' % (
        _encode(completion_id).encode(),
        kind.encode(),
        created,
        _encode(model).encode(),
    )


def _chat_choice(chunk: Chunk) -> dict[str, Any]:
    delta: dict[str, Any] = {}
    if chunk.text:
        delta["content"] = chunk.text
    if chunk.tool_calls:
        delta["tool_calls"] = [_tool_call(call) for call in chunk.tool_calls]
    choice: dict[str, Any] = {"index": chunk.index, "delta": delta}
    if chunk.logprobs is not None:
        choice["logprobs"] = chunk.logprobs
    choice["finish_reason"] = chunk.finish_reason
    return choice


def _tool_call(call: ToolCallPiece) -> dict[str, Any]:
    piece: dict[str, Any] = {"index": call.index}
    if call.id is not None:
        piece["id"] = call.id
        piece["type"] = "function"
    function = {}
    if call.name is not None:
        function["name"] = call.name
    if call.arguments is not None:
        function["arguments"] = call.arguments
    if function:
        piece["function"] = function
    return piece


class CompletionFrames:
    """``TextCompletion`` frames of one legacy completions stream."""

    __slots__ = ("_prefix",)

    def __init__(self, completion_id: str, created: int, model: str) -> None:
        self._prefix = _prefix(completion_id, "text_completion", created, model)

    def content(
        self, chunk: Chunk, text: str, index: int, logprobs: dict[str, Any] | None
    ) -> bytes:
        encoded = b',"logprobs":' + (b"null" if logprobs is None else _encode(logprobs).encode())
        return (
            self._prefix
            + b'[{"text":'
            + _quoted(text).encode()
            + b',"index":%d' % index
            + encoded
            + _finish_reason(chunk.finish_reason, _NO_REASON)
            + b"}]}"
            + _END
        )

    def usage(self, usage: TokenUsage) -> bytes:
        return self._prefix + b'[],"usage":' + _usage(usage) + b"}" + _END


class GenerateFrames:
    """``GenerateStreamEvent`` frames of one stream."""

    __slots__ = ("_prefix",)

    def __init__(self, request_id: str, model: str) -> None:
        self._prefix = b'data: {"id":%s,"model":%s,"text":' % (
            _encode(request_id).encode(),
            _encode(model).encode(),
        )

    def event(self, chunk: Chunk) -> bytes:
        usage = b"" if chunk.usage is None else b',"usage":' + _usage(chunk.usage)
        return (
            self._prefix
            + _quoted(chunk.text).encode()
            + _finish_reason(chunk.finish_reason)
            + usage
            + b"}"
            + _END
        )


def wire_usage(usage: TokenUsage) -> protocol.Usage:
    return protocol.Usage(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
    )


class DialectEvents(Protocol):
    """A stream's typed events in a client's dialect (Anthropic's, the Responses API's)."""

    def start(self) -> bytes: ...

    def chunk(self, chunk: Chunk) -> bytes: ...

    def end(self) -> bytes: ...


async def dialect_frames(
    events: DialectEvents, chunks: AsyncIterator[Chunk]
) -> AsyncGenerator[bytes, None]:
    """The stream's events: its start, those of each chunk (some have none), its end. A
    failure midway propagates, for :func:`event_stream` to render."""
    yield events.start()
    async for chunk in chunks:
        if piece := events.chunk(chunk):
            yield piece
    yield events.end()


def _error_frame(error: GatewayError) -> bytes:
    return frame(error.body())


def event_stream(
    frames: AsyncGenerator[bytes, None],
    relay: Closable,
    on_error: Callable[[GatewayError], bytes] = _error_frame,
    last: bytes = DONE,
) -> StreamingResponse:
    """An SSE response of ``frames``, closed by ``last`` (``[DONE]``) even when the upstream
    fails; ``on_error`` renders that failure (``data: {"error": ...}`` by default).

    However the response ends, even abandoned by the client, the relay is closed: that
    ends the measurement and releases the upstream connection and slot.
    """
    return EventStreamResponse(
        frames, relay, on_error, last, media_type=MEDIA_TYPE, headers=HEADERS
    )
