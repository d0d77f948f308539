"""An open stream on its way to the client, measured as it passes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from llm_gateway.core.measurement import Measurement
from llm_gateway.core.types import Chunk, Usage


class Relay:
    """An open stream's chunks, measured as they pass and closed exactly once.

    Iterating to the end records success; an upstream failure or a cancellation records
    that; ``aclose`` on a stream nobody finished (the client left) records it cancelled.
    """

    def __init__(
        self,
        first: Chunk,
        chunks: AsyncIterator[Chunk],
        measurement: Measurement,
        on_close: Callable[[Usage | None], None],
    ) -> None:
        self._pending: Chunk | None = first
        self._chunks = chunks
        self._measurement = measurement
        self._on_close = on_close
        self._usage: Usage | None = None
        self._tool_calls = 0
        self._closed = False

    def __aiter__(self) -> Relay:
        return self

    @property
    def model(self) -> str:
        """The model streaming: the requested one, or a fallback."""
        return self._measurement.model

    async def __anext__(self) -> Chunk:
        if self._closed:
            raise StopAsyncIteration
        try:
            if self._pending is not None:
                chunk, self._pending = self._pending, None
            else:
                chunk = await anext(self._chunks)
        except StopAsyncIteration:
            await self._close(None)
            raise
        except BaseException as exc:
            await self._close(exc)
            raise
        if chunk.text or chunk.tool_calls:
            self._measurement.token()
        # A call's first delta names its function; the rest carry argument pieces.
        self._tool_calls += sum(1 for call in chunk.tool_calls if call.name is not None)
        self._usage = chunk.usage or self._usage
        return chunk

    async def aclose(self) -> None:
        if not self._closed:
            await self._close(asyncio.CancelledError())

    async def _close(self, exc: BaseException | None) -> None:
        # Recorded before the first await: a cancelled task may not get past it.
        self._closed = True
        if exc is None:
            usage = self._usage or Usage(0, self._measurement.tokens)
            self._on_close(usage)
            self._measurement.succeed(usage, self._tool_calls)
        else:
            self._on_close(None)
            self._measurement.fail(exc)
        await self._chunks.aclose()  # type: ignore[attr-defined]
