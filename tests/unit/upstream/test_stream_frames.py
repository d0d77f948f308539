"""A chat stream is read from its lines, or, where they cannot be reached, from
huggingface_hub's parsed outputs: the same frames either way."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from huggingface_hub import ChatCompletionStreamOutput

from llm_gateway.core.types import Chunk
from llm_gateway.errors import UpstreamRejected
from llm_gateway.upstream import wire
from llm_gateway.upstream.client import stream_frames

FRAME = {
    "id": "c",
    "created": 1,
    "model": "m",
    "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}],
}
LINES = [f"data: {json.dumps(FRAME)}", "", ": a comment", "data: [DONE]", "data: {not json"]


async def lines_of(lines: list[str]) -> AsyncIterator[str]:
    for line in lines:
        yield line


async def parsing(lines: AsyncIterator[str]) -> AsyncIterator[Any]:
    """Stands for huggingface_hub's wrapper; reading its lines must not start it."""
    raise AssertionError("the wrapper was iterated")
    yield  # pragma: no cover


class Parsed:
    """An iterator over parsed outputs, with no lines to reach."""

    def __init__(self, outputs: list[Any]) -> None:
        self._outputs = iter(outputs)

    def __aiter__(self) -> Parsed:
        return self

    async def __anext__(self) -> Any:
        try:
            return next(self._outputs)
        except StopIteration:
            raise StopAsyncIteration from None


async def chunks(outputs: Any) -> list[Chunk]:
    return [chunk async for frame in stream_frames(outputs) for chunk in wire.chat_chunks(frame)]


async def test_lines_are_read_as_json_until_done(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        got = await chunks(parsing(lines_of(LINES)))

    assert got == [Chunk(text="Hi")]
    assert not caplog.records


async def test_parsed_outputs_are_read_where_the_lines_are_out_of_reach(
    caplog: pytest.LogCaptureFixture,
) -> None:
    parsed = ChatCompletionStreamOutput.parse_obj_as_instance(json.dumps(FRAME))

    with caplog.at_level(logging.WARNING):
        got = await chunks(Parsed([parsed]))

    assert got == [Chunk(text="Hi")]
    assert "parsed outputs" in caplog.text


async def test_an_error_frame_is_the_upstreams_refusal() -> None:
    error = 'data: {"error": "Input validation error", "error_type": "validation"}'

    with pytest.raises(UpstreamRejected):
        await chunks(parsing(lines_of([error])))
