"""What the gateway makes sure of in every stream it relays, whichever the upstream kind."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from llm_gateway.core.types import Chunk, TokenUsage, ToolCallPiece
from llm_gateway.errors import UpstreamServerError


class StreamCheck:
    """What the gateway makes sure of in a stream it relays, whichever the upstream.

    * A tool call is named once: a server that repeats a call's id and name in each of
      its deltas (llama.cpp does) has the repeats dropped, so clients (the OpenAI SDK
      concatenates what it is sent) and ``llm_gateway_tool_calls_total`` see one call.
    * It finished: a stream that ends without a finish reason (cut off, or abandoned
      with no frame at all) is an upstream error, never a success.
    * Its usage is counted: the upstream's, held back to the end, estimated where it
      reported none (see :meth:`TokenUsage.settled`).
    """

    __slots__ = ("_calls", "_chars", "_pieces", "_prompt_chars", "_usage", "finished")

    def __init__(self, prompt_chars: int) -> None:
        self._prompt_chars = prompt_chars
        self._calls: set[tuple[int, int]] = set()
        self._chars = 0
        self._pieces = 0
        self._usage: TokenUsage | None = None
        self.finished = False

    def checked(self, chunks: list[Chunk]) -> list[Chunk]:
        """A stream frame's chunks to relay (pieces of text or tool calls, or a finish),
        checked; its usage is held back for :meth:`end`. Once a frame: written as one
        loop, without a call a chunk."""
        checked = []
        for chunk in chunks:
            if chunk.usage is not None:
                self._usage = chunk.usage
                continue
            if chunk.finish_reason is not None:
                self.finished = True
            if chunk.text:
                self._chars += len(chunk.text)
                self._pieces += 1
            if chunk.tool_calls:
                self._pieces += 1
                chunk = replace(chunk, tool_calls=tuple(self._named_once(chunk)))
            checked.append(chunk)
        return checked

    def end(self) -> Chunk:
        """The stream's last chunk, its usage; raises if it never finished."""
        if not self.finished:
            raise UpstreamServerError(
                "The upstream ended the stream before it finished (no finish reason).",
                code="upstream_stream_incomplete",
            )
        usage = TokenUsage.settled(self._usage, self._prompt_chars, self._chars, self._pieces)
        return Chunk(usage=usage)

    def _named_once(self, chunk: Chunk) -> Iterator[ToolCallPiece]:
        for call in chunk.tool_calls:
            self._chars += len(call.arguments or "")
            key = (chunk.index, call.index)
            if key not in self._calls:
                if call.name is not None:
                    self._calls.add(key)
                yield call
            elif call.id is not None or call.name is not None:
                yield replace(call, id=None, name=None)
            else:
                yield call
