"""An open stream on its way to the client, measured as it passes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from llm_gateway.core.measurement import Measurement
from llm_gateway.core.types import Chunk, TokenUsage
from llm_gateway.errors import DeadlineExceeded, GatewayError

# Chunks relayed between two yields to the event loop. An upstream that floods keeps
# data buffered, so reading it and writing to a client that left never wait: without a
# yield, the task that notices the client leaving (or a deadline) would not get to run.
CHUNKS_PER_YIELD = 8


class Relay:
    """An open stream's chunks, measured as they pass and closed exactly once.

    Iterating to the end records success; an upstream failure or a cancellation records
    that; ``aclose`` on a stream nobody finished (the client left) records it cancelled.
    The stream ends at ``deadline`` (event-loop time) with :class:`DeadlineExceeded`,
    and :meth:`interrupt` ends it early with another error: either is raised at once if
    the stream is waiting on the upstream, or at the next chunk.
    """

    def __init__(
        self,
        first: Chunk,
        chunks: AsyncIterator[Chunk],
        measurement: Measurement,
        on_close: Callable[[TokenUsage | None], None],
        deadline: float,
        deadline_seconds: float,
    ) -> None:
        self._pending: Chunk | None = first
        self._chunks = chunks
        self._measurement = measurement
        self._on_close = on_close
        self._usage: TokenUsage | None = None
        self._tool_calls = 0
        self._finish_reasons: list[str] = []
        # Each choice's text, gathered only for a span that records it.
        self._texts: dict[int, list[str]] | None = {} if measurement.captures_content else None
        # Characters generated, for an estimate of the usage an upstream does not report.
        self._chars = 0
        self._closed = False
        self._relayed = 0
        self._interruption: GatewayError | None = None
        # The task waiting on the upstream, while it waits.
        self._waiting: asyncio.Task[Any] | None = None
        self._timer = asyncio.get_running_loop().call_at(
            deadline, lambda: self.interrupt(DeadlineExceeded(deadline_seconds))
        )

    def __aiter__(self) -> Relay:
        return self

    @property
    def model(self) -> str:
        """The model streaming: the requested one, or a fallback."""
        return self._measurement.model

    def interrupt(self, error: GatewayError) -> None:
        """End the stream with ``error``, which its consumer sends as its last frame."""
        if self._closed or self._interruption is not None:
            return
        self._interruption = error
        if self._waiting is not None:
            self._waiting.cancel()

    async def __anext__(self) -> Chunk:
        if self._closed:
            raise StopAsyncIteration
        try:
            if self._pending is not None:
                chunk, self._pending = self._pending, None
            else:
                chunk = await self._next()
        except StopAsyncIteration:
            await self._close(None)
            raise
        except BaseException as exc:
            await self._close(exc)
            raise
        if chunk.text or chunk.tool_calls:
            self._measurement.token()
            self._chars += len(chunk.text)
            for call in chunk.tool_calls:
                self._chars += len(call.arguments or "")
        # A call's first delta names its function; the rest carry argument pieces.
        self._tool_calls += sum(1 for call in chunk.tool_calls if call.name is not None)
        self._usage = chunk.usage or self._usage
        if chunk.finish_reason is not None:
            self._finish_reasons.append(chunk.finish_reason)
        if self._texts is not None:
            self._texts.setdefault(chunk.index, []).append(chunk.text)
        return chunk

    async def _next(self) -> Chunk:
        self._relayed += 1
        if self._relayed % CHUNKS_PER_YIELD == 0:
            await asyncio.sleep(0)
        if self._interruption is not None:
            raise self._interruption
        task = self._waiting = asyncio.current_task()
        assert task is not None
        try:
            return await anext(self._chunks)
        except asyncio.CancelledError:
            if self._interruption is None:
                raise
            task.uncancel()  # our own cancellation, not the server's
            raise self._interruption from None
        finally:
            self._waiting = None

    async def aclose(self) -> None:
        if not self._closed:
            await self._close(asyncio.CancelledError())

    async def _close(self, exc: BaseException | None) -> None:
        # Recorded before the first await: a cancelled task may not get past it.
        self._closed = True
        self._timer.cancel()
        if exc is None:
            usage = self._usage or self._measurement.estimated_usage(self._chars)
            self._on_close(usage)
            texts = None
            if self._texts is not None:
                texts = ["".join(parts) for _, parts in sorted(self._texts.items())]
            self._measurement.succeed(usage, self._tool_calls, self._finish_reasons, None, texts)
        else:
            self._on_close(None)
            self._measurement.fail(exc)
        await self._chunks.aclose()  # type: ignore[attr-defined]
