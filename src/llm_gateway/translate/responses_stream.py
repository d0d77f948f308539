"""A stream of the core's chunks as the Responses API's typed events.

Each event is one Server-Sent Event, ``event: <type>`` and ``data: {json}`` with a
``sequence_number`` one above the last; the shapes are
:mod:`llm_gateway.protocol.response_events`'. In order: ``response.created`` and
``response.in_progress``; for each output item, ``response.output_item.added``, then its
content (a message: ``response.content_part.added``, ``response.output_text.delta``...,
``response.output_text.done``, ``response.content_part.done``; a function call:
``response.function_call_arguments.delta``..., ``.done``), then
``response.output_item.done``; last ``response.completed``, or ``response.incomplete``
when the output was cut short. An item is done when the next one begins (upstreams stream
tool calls one after another) or at the end.

Unlike the chat stream, no ``data: [DONE]`` closes it: OpenAI sends none here, and the
terminal event says how the response ended. A failure after the first byte is sent as an
``error`` event (the gateway's error code) and ``response.failed``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from llm_gateway.core.types import Chunk, TokenUsage, ToolCallPiece
from llm_gateway.errors import GatewayError
from llm_gateway.protocol.responses import (
    FunctionToolCall,
    ItemStatus,
    LogProb,
    OutputItem,
    OutputMessage,
    OutputTextPart,
    ResponseError,
)
from llm_gateway.translate.responses_output import Envelope, item_status, logprobs, wire

_encode = json.JSONEncoder(separators=(",", ":")).encode


@dataclass(slots=True)
class _Message:
    item_id: str
    output_index: int
    status: ItemStatus = "in_progress"
    text: list[str] = field(default_factory=list)
    logprobs: list[LogProb] = field(default_factory=list)

    def item(self) -> OutputMessage:
        # Just added, the message has no part yet: response.content_part.added brings it.
        part = OutputTextPart(text="".join(self.text), logprobs=self.logprobs)
        return OutputMessage(
            id=self.item_id, status=self.status, content=[part] if self.text else []
        )


@dataclass(slots=True)
class _Call:
    item_id: str
    output_index: int
    call_id: str
    name: str
    status: ItemStatus = "in_progress"
    arguments: list[str] = field(default_factory=list)

    def item(self) -> FunctionToolCall:
        return FunctionToolCall(
            id=self.item_id,
            status=self.status,
            call_id=self.call_id,
            name=self.name,
            arguments="".join(self.arguments),
        )


class ResponseEvents:
    """The events of one streamed response, encoded as its chunks arrive."""

    def __init__(self, envelope: Envelope) -> None:
        self._envelope = envelope
        self._sequence = 0
        self._items: list[_Message | _Call] = []
        self._open: _Message | _Call | None = None
        self._calls: dict[int, _Call] = {}
        self._finish_reason: str | None = None
        self._usage: TokenUsage | None = None

    def start(self) -> bytes:
        snapshot = wire(self._envelope.response("in_progress", []))
        return self._event("response.created", response=snapshot) + self._event(
            "response.in_progress", response=snapshot
        )

    def chunk(self, chunk: Chunk) -> bytes:
        if chunk.index:
            # A Responses request asks for one choice; `n` sent as an unknown field does not
            # turn this into several.
            return b""
        self._usage = chunk.usage or self._usage
        self._finish_reason = chunk.finish_reason or self._finish_reason
        events = self._text(chunk.text, chunk.logprobs) if chunk.text else b""
        for call in chunk.tool_calls:
            events += self._call(call)
        return events

    def end(self) -> bytes:
        """The open item's last events, then ``response.completed`` or ``.incomplete``."""
        events = self._close(item_status(self._finish_reason))
        response = self._envelope.response(
            "completed", self._output(), self._usage, finish_reason=self._finish_reason
        )
        return events + self._event(f"response.{response.status}", response=wire(response))

    def failure(self, error: GatewayError) -> bytes:
        """The stream's last events once it failed: the status line is long gone."""
        code = "rate_limit_exceeded" if error.status == 429 else "server_error"
        failed = self._envelope.response(
            "failed",
            self._output(),
            self._usage,
            error=ResponseError(code=code, message=error.message),
        )
        return self._event(
            "error", code=error.code, message=error.message, param=error.param
        ) + self._event("response.failed", response=wire(failed))

    def _text(self, text: str, chat_logprobs: dict[str, Any] | None) -> bytes:
        events = b""
        message = self._open
        if not isinstance(message, _Message):
            events += self._close("completed")
            index = len(self._items)
            message = _Message(self._envelope.item_id("msg", index), index)
            events += self._add(message)
            events += self._event(
                "response.content_part.added",
                **self._where(message),
                content_index=0,
                part=OutputTextPart(text="").model_dump(),
            )
        entries = logprobs(chat_logprobs)
        message.text.append(text)
        message.logprobs.extend(entries)
        return events + self._event(
            "response.output_text.delta",
            **self._where(message),
            content_index=0,
            delta=text,
            logprobs=[entry.model_dump() for entry in entries],
        )

    def _call(self, delta: ToolCallPiece) -> bytes:
        events = b""
        call = self._calls.get(delta.index)
        # Some upstreams number every call 0: a new id is a new call all the same.
        if call is None or (delta.id is not None and delta.id != call.call_id):
            events += self._close("completed")
            index = len(self._items)
            call = _Call(
                self._envelope.item_id("fc", index),
                index,
                delta.id or f"call_{self._envelope.request_id}_{index}",
                delta.name or "",
            )
            self._calls[delta.index] = call
            events += self._add(call)
        if delta.arguments:
            call.arguments.append(delta.arguments)
            events += self._event(
                "response.function_call_arguments.delta", **self._where(call), delta=delta.arguments
            )
        return events

    def _add(self, item: _Message | _Call) -> bytes:
        self._items.append(item)
        self._open = item
        return self._event(
            "response.output_item.added",
            output_index=item.output_index,
            item=item.item().model_dump(),
        )

    def _close(self, status: ItemStatus) -> bytes:
        item, self._open = self._open, None
        if item is None:
            return b""
        item.status = status
        whole = item.item()
        if isinstance(whole, OutputMessage):
            part = whole.content[0].model_dump()
            events = self._event(
                "response.output_text.done",
                **self._where(item),
                content_index=0,
                text=part["text"],
                logprobs=part["logprobs"],
            ) + self._event(
                "response.content_part.done", **self._where(item), content_index=0, part=part
            )
        else:
            events = self._event(
                "response.function_call_arguments.done",
                **self._where(item),
                name=whole.name,
                arguments=whole.arguments,
            )
        return events + self._event(
            "response.output_item.done", output_index=item.output_index, item=whole.model_dump()
        )

    def _output(self) -> list[OutputItem]:
        """Every item so far; one still open (the stream failed) as cut short."""
        for item in self._items:
            if item.status == "in_progress":
                item.status = "incomplete"
        return [item.item() for item in self._items]

    @staticmethod
    def _where(item: _Message | _Call) -> dict[str, Any]:
        return {"item_id": item.item_id, "output_index": item.output_index}

    def _event(self, kind: str, **fields: Any) -> bytes:
        payload = {"type": kind, **fields, "sequence_number": self._sequence}
        self._sequence += 1
        return b"event: %s\ndata: %s\n\n" % (kind.encode(), _encode(payload).encode())
