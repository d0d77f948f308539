"""A streamed message as Anthropic streams it (its API reference, "Streaming Messages").

Each event is framed ``event: <type>\\ndata: {json}\\n\\n``, named after its ``type``, in
Anthropic's order: ``message_start`` (the message with no content yet, and the
gateway's estimate of its input tokens), one ``ping``, then each content block's
``content_block_start``, deltas (``text_delta``, or ``input_json_delta`` pieces of a tool
call's input) and ``content_block_stop``, then ``message_delta`` (the stop reason and
the upstream's usage) and ``message_stop``. A failure after the first byte is an
``error`` event in Anthropic's envelope, and the stream ends there: no ``[DONE]``.

The text deltas, one per token, are written as bytes around the encoded text, with no
dict built: as the chat frames of :mod:`~llm_gateway.routes.streaming` are, for cost.
"""

from __future__ import annotations

import json
from typing import Any

from llm_gateway.core.types import Chunk, TokenUsage
from llm_gateway.errors import GatewayError
from llm_gateway.http import envelopes
from llm_gateway.protocol import anthropic as wire
from llm_gateway.routes.anthropic import stop_reason

_encode = json.JSONEncoder(separators=(",", ":")).encode
_TEXT = -1  # the open block's key when it is text; a tool call's is its upstream index
PING = b'event: ping\ndata: {"type":"ping"}\n\n'


def event(payload: dict[str, Any]) -> bytes:
    return b"event: %s\ndata: %s\n\n" % (payload["type"].encode(), _encode(payload).encode())


def error_event(error: GatewayError) -> bytes:
    """The stream's last event, after a failure: the status line is long gone."""
    _, body = envelopes.anthropic(error, error.status)
    return event(body)


class MessageEvents:
    """The events of one streamed message, written from the core's chunks."""

    __slots__ = (
        "_block",
        "_blocks",
        "_finish_reason",
        "_input_tokens",
        "_message_id",
        "_model",
        "_open",
        "_stop",
        "_tokens",
        "_usage",
    )

    def __init__(
        self, message_id: str, model: str, input_tokens: int, stop: list[str] | None
    ) -> None:
        self._message_id = message_id
        self._model = model
        self._input_tokens = input_tokens
        self._stop = stop
        self._block = -1  # the index of the last block started
        self._open: int | None = None  # the open block's key (_TEXT, or a call's index)
        self._blocks: dict[int, int] = {}  # a tool call's upstream index -> its block
        self._finish_reason: str | None = None
        self._usage: TokenUsage | None = None
        self._tokens = 0

    def start(self) -> bytes:
        shell = wire.MessageResponse(
            id=self._message_id,
            content=[],
            model=self._model,
            stop_reason=None,
            usage=wire.AnthropicUsage(input_tokens=self._input_tokens, output_tokens=0),
        )
        return event({"type": "message_start", "message": shell.model_dump()}) + PING

    def chunk(self, chunk: Chunk) -> bytes:
        if chunk.usage is not None:
            self._usage = chunk.usage
            return b""
        pieces = []
        if chunk.text:
            if self._open != _TEXT:
                pieces.append(self._start(_TEXT, {"type": "text", "text": ""}))
            pieces.append(self._text_delta(chunk.text))
        for call in chunk.tool_calls:
            if call.index not in self._blocks:
                block_id = call.id or f"toolu_{self._message_id}_{call.index}"
                tool_use = {"type": "tool_use", "id": block_id, "name": call.name or ""}
                pieces.append(self._start(call.index, {**tool_use, "input": {}}))
                self._blocks[call.index] = self._block
            if call.arguments:
                delta = {"type": "input_json_delta", "partial_json": call.arguments}
                pieces.append(self._delta(self._blocks[call.index], delta))
        if chunk.text or chunk.tool_calls:
            self._tokens += 1
        self._finish_reason = chunk.finish_reason or self._finish_reason
        return b"".join(pieces)

    def end(self) -> bytes:
        reason, sequence = stop_reason(self._finish_reason, bool(self._blocks), self._stop)
        usage = self._usage or TokenUsage(self._input_tokens, self._tokens)
        totals = {"input_tokens": usage.prompt_tokens, "output_tokens": usage.completion_tokens}
        delta = {
            "type": "message_delta",
            "delta": {"stop_reason": reason, "stop_sequence": sequence},
            # Totals, as Anthropic's are: the SDK and LangChain take input_tokens from
            # here over message_start's estimate.
            "usage": totals,
        }
        return self._stop_open() + event(delta) + event({"type": "message_stop"})

    def _start(self, key: int, block: dict[str, Any]) -> bytes:
        stopped = self._stop_open()
        self._block += 1
        self._open = key
        start = {"type": "content_block_start", "index": self._block, "content_block": block}
        return stopped + event(start)

    def _stop_open(self) -> bytes:
        if self._open is None:
            return b""
        self._open = None
        return event({"type": "content_block_stop", "index": self._block})

    def _delta(self, index: int, delta: dict[str, Any]) -> bytes:
        return event({"type": "content_block_delta", "index": index, "delta": delta})

    def _text_delta(self, text: str) -> bytes:
        return (
            b'event: content_block_delta\ndata: {"type":"content_block_delta","index":%d,'
            b'"delta":{"type":"text_delta","text":%s}}\n\n' % (self._block, _encode(text).encode())
        )
