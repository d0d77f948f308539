"""Rendering shared by the completion routes: usage and the SSE response around a stream."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from llm_gateway import completion, protocol, sse
from llm_gateway.errors import GatewayError


def wire_usage(usage: completion.Usage) -> protocol.Usage:
    return protocol.Usage(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
    )


def event_stream(
    frames: AsyncIterator[bytes], chunks: AsyncIterator[completion.Chunk]
) -> StreamingResponse:
    """An SSE response of ``frames``, closed by ``[DONE]`` even when the upstream fails.

    Closing ``chunks`` after the response, even one the client abandoned, is what ends
    the measurement and releases the upstream connection.
    """
    return StreamingResponse(
        _closed(frames),
        media_type=sse.MEDIA_TYPE,
        headers=sse.HEADERS,
        background=BackgroundTask(chunks.aclose),  # type: ignore[attr-defined]
    )


async def _closed(frames: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    try:
        async for frame in frames:
            yield frame
    except GatewayError as exc:
        # The status line is long gone: the error travels as the stream's last frame.
        yield sse.frame(exc.body())
    yield sse.DONE
