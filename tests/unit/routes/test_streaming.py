"""The pre-encoded stream frames are byte for byte what the wire models render."""

from __future__ import annotations

import pytest

from llm_gateway.core.types import Chunk, TokenUsage, ToolCallPiece
from llm_gateway.protocol import (
    ChatCompletionChunk,
    ChunkChoice,
    CompletionChoice,
    CompletionLogprobs,
    Delta,
    FunctionDelta,
    GenerateStreamEvent,
    TextCompletion,
    ToolCallDelta,
    Usage,
)
from llm_gateway.routes.streaming import ChatFrames, CompletionFrames, GenerateFrames, frame

TEXTS = ["", "Hello", ' "quoted" \\ back', "naïve ünïcode ✓ 🚀", "line\nbreak\ttab\x00"]
MODEL = 'mistralai/Mistral-7B "v0.3"'


def wire_usage(usage: TokenUsage) -> Usage:
    return Usage(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
    )


def rendered(
    model: ChatCompletionChunk | GenerateStreamEvent | TextCompletion,
    required: tuple[str, ...] = (),
) -> bytes:
    """The model's frame: null keys left out, but for the choices' ``required`` ones."""
    dumped = model.model_dump(exclude_none=True)
    if required:
        dumped["choices"] = [
            {key: kept.get(key, value) for key, value in whole.items() if key in {*kept, *required}}
            for kept, whole in zip(dumped["choices"], model.model_dump()["choices"], strict=True)
        ]
    return frame(dumped)


def chunk_rendered(model: ChatCompletionChunk) -> bytes:
    return rendered(model, ("finish_reason",))


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
    assert frames.content(Chunk(text=text, finish_reason=finish_reason)) == chunk_rendered(expected)


def test_chat_opening_and_usage_frames_match_the_wire_model() -> None:
    frames = ChatFrames("chatcmpl-abc", 1700000000, MODEL)
    opening = ChatCompletionChunk(
        id="chatcmpl-abc",
        created=1700000000,
        model=MODEL,
        choices=[ChunkChoice(delta=Delta(role="assistant", content=""))],
    )
    usage = TokenUsage(12, 34)
    closing = ChatCompletionChunk(
        id="chatcmpl-abc", created=1700000000, model=MODEL, choices=[], usage=wire_usage(usage)
    )
    assert frames.opening() == chunk_rendered(opening)
    assert frames.usage(usage) == chunk_rendered(closing)


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("finish_reason", [None, "stop"])
@pytest.mark.parametrize("usage", [None, TokenUsage(5, 7)])
def test_generate_frame_matches_the_wire_model(
    text: str, finish_reason: str | None, usage: TokenUsage | None
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


def test_tool_call_frames_match_the_wire_model_and_carry_no_null_keys() -> None:
    frames = ChatFrames("chatcmpl-abc", 1700000000, MODEL)
    first = Chunk(tool_calls=(ToolCallPiece(0, id="call_1", name="get_weather", arguments=""),))
    later = Chunk(tool_calls=(ToolCallPiece(0, arguments='{"city": '),), index=1)
    logprobs = {"content": [{"token": "Hi", "logprob": -0.5, "top_logprobs": []}]}

    expected_first = ChatCompletionChunk(
        id="chatcmpl-abc",
        created=1700000000,
        model=MODEL,
        choices=[
            ChunkChoice(
                delta=Delta(
                    tool_calls=[
                        ToolCallDelta(
                            index=0,
                            id="call_1",
                            type="function",
                            function=FunctionDelta(name="get_weather", arguments=""),
                        )
                    ]
                )
            )
        ],
    )
    expected_later = ChatCompletionChunk(
        id="chatcmpl-abc",
        created=1700000000,
        model=MODEL,
        choices=[
            ChunkChoice(
                index=1,
                delta=Delta(
                    tool_calls=[
                        ToolCallDelta(index=0, function=FunctionDelta(arguments='{"city": '))
                    ]
                ),
            )
        ],
    )
    assert frames.content(first) == chunk_rendered(expected_first)
    assert frames.content(later) == chunk_rendered(expected_later)
    # The finish reason's is the only null: the tool call delta's absent keys are left out.
    assert frames.content(later).count(b"null") == 1
    assert b'"logprobs":{"content":' in frames.content(Chunk(text="Hi", logprobs=logprobs))


def test_chat_opening_has_one_frame_per_choice() -> None:
    opening = ChatFrames("chatcmpl-abc", 1700000000, MODEL).opening(3)

    assert opening.count(b"data: ") == 3
    assert b'"index":2' in opening


@pytest.mark.parametrize("finish_reason", [None, "length"])
def test_completion_frame_matches_the_wire_model(finish_reason: str | None) -> None:
    frames = CompletionFrames("cmpl-abc", 1700000000, MODEL)
    logprobs = {"tokens": ["Hi"], "token_logprobs": [-0.5], "text_offset": [3]}
    expected = TextCompletion(
        id="cmpl-abc",
        created=1700000000,
        model=MODEL,
        choices=[
            CompletionChoice(
                text="Hi",
                index=2,
                logprobs=CompletionLogprobs(**logprobs),  # type: ignore[arg-type]
                finish_reason=finish_reason,
            )
        ],
    )

    chunk = Chunk(text="Hi", finish_reason=finish_reason)
    assert frames.content(chunk, "Hi", 2, logprobs) == rendered(
        expected, ("logprobs", "finish_reason")
    )
