"""The pre-encoded stream frames are byte for byte what the wire models render."""

from __future__ import annotations

import pytest

from llm_gateway.core.types import Chunk, Usage
from llm_gateway.protocol import ChatCompletionChunk, ChunkChoice, Delta, GenerateStreamEvent
from llm_gateway.protocol import Usage as WireUsage
from llm_gateway.routes.streaming import ChatFrames, GenerateFrames, frame

TEXTS = ["", "Hello", ' "quoted" \\ back', "naïve ünïcode ✓ 🚀", "line\nbreak\ttab\x00"]
MODEL = 'mistralai/Mistral-7B "v0.3"'


def wire_usage(usage: Usage) -> WireUsage:
    return WireUsage(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
    )


def rendered(model: ChatCompletionChunk | GenerateStreamEvent) -> bytes:
    return frame(model.model_dump(exclude_none=True))


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("finish_reason", [None, "stop", "length"])
def test_chat_content_frame_matches_the_wire_model(text: str, finish_reason: str | None) -> None:
    frames = ChatFrames("chatcmpl-abc", 1700000000, MODEL)
    expected = ChatCompletionChunk(
        id="chatcmpl-abc",
        created=1700000000,
        model=MODEL,
        choices=[ChunkChoice(delta=Delta(content=text), finish_reason=finish_reason)],
    )
    assert frames.content(Chunk(text=text, finish_reason=finish_reason)) == rendered(expected)


def test_chat_opening_and_usage_frames_match_the_wire_model() -> None:
    frames = ChatFrames("chatcmpl-abc", 1700000000, MODEL)
    opening = ChatCompletionChunk(
        id="chatcmpl-abc",
        created=1700000000,
        model=MODEL,
        choices=[ChunkChoice(delta=Delta(role="assistant", content=""))],
    )
    usage = Usage(12, 34)
    closing = ChatCompletionChunk(
        id="chatcmpl-abc", created=1700000000, model=MODEL, choices=[], usage=wire_usage(usage)
    )
    assert frames.opening() == rendered(opening)
    assert frames.usage(usage) == rendered(closing)


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("finish_reason", [None, "stop"])
@pytest.mark.parametrize("usage", [None, Usage(5, 7)])
def test_generate_frame_matches_the_wire_model(
    text: str, finish_reason: str | None, usage: Usage | None
) -> None:
    frames = GenerateFrames("req-1", MODEL)
    expected = GenerateStreamEvent(
        id="req-1",
        model=MODEL,
        text=text,
        finish_reason=finish_reason,
        usage=None if usage is None else wire_usage(usage),
    )
    chunk = Chunk(text=text, finish_reason=finish_reason, usage=usage)
    assert frames.event(chunk) == rendered(expected)
