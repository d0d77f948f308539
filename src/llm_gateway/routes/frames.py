"""SSE frames of the two stream shapes, from pieces encoded once per stream.

A stream's frames differ only in their token text, finish reason and usage, so each
stream encodes its envelope (id, created, model) once and each frame JSON-encodes only
its text. Building a pydantic model per token and dumping it cost more than relaying the
token. The bytes are exactly what ``sse.frame(model.model_dump(exclude_none=True))`` of
:class:`~llm_gateway.protocol.ChatCompletionChunk` and
:class:`~llm_gateway.protocol.GenerateStreamEvent` give (tested), so those models stay the
documented wire shape.
"""

from __future__ import annotations

import json

from llm_gateway.completion import Chunk, Usage

_encode = json.JSONEncoder(separators=(",", ":")).encode
_END = b"\n\n"


def _usage(usage: Usage) -> bytes:
    return b'{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}' % (
        usage.prompt_tokens,
        usage.completion_tokens,
        usage.total_tokens,
    )


def _finish_reason(reason: str | None) -> bytes:
    return b"" if reason is None else b',"finish_reason":' + _encode(reason).encode()


class ChatFrames:
    """``ChatCompletionChunk`` frames of one stream."""

    __slots__ = ("_prefix",)

    def __init__(self, completion_id: str, created: int, model: str) -> None:
        self._prefix = (
            b'data: {"id":%s,"object":"chat.completion.chunk","created":%d,"model":%s,"choices":'
            % (_encode(completion_id).encode(), created, _encode(model).encode())
        )

    def opening(self) -> bytes:
        return self._prefix + b'[{"index":0,"delta":{"role":"assistant","content":""}}]}' + _END

    def content(self, chunk: Chunk) -> bytes:
        return (
            self._prefix
            + b'[{"index":0,"delta":{"content":'
            + _encode(chunk.text).encode()
            + b"}"
            + _finish_reason(chunk.finish_reason)
            + b"}]}"
            + _END
        )

    def usage(self, usage: Usage) -> bytes:
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
            + _encode(chunk.text).encode()
            + _finish_reason(chunk.finish_reason)
            + usage
            + b"}"
            + _END
        )
