"""Rendering shared by the completion routes: usage and the SSE response around a stream."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi.responses import StreamingResponse

from llm_gateway import completion, protocol, sse
from llm_gateway.core import Relay
from llm_gateway.errors import GatewayError


def wire_usage(usage: completion.Usage) -> protocol.Usage:
    return protocol.Usage(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
    )


def event_stream(frames: AsyncIterator[bytes], relay: Relay) -> StreamingResponse:
    """An SSE response of ``frames``, closed by ``[DONE]`` even when the upstream fails.

    However the response ends, even abandoned by the client, the relay is closed: that
    ends the measurement and releases the upstream connection and slot.
    """
    return StreamingResponse(_closed(frames, relay), media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)


async def _closed(frames: AsyncIterator[bytes], relay: Relay) -> AsyncIterator[bytes]:
    try:
        async for frame in frames:
            yield frame
    except GatewayError as exc:
        # The status line is long gone: the error travels as the stream's last frame.
        yield sse.frame(exc.body())
    finally:
        await relay.aclose()
    yield sse.DONE
