"""Anthropic's Messages API translated into the core's request, and its answers back: the
request fields, the message, the stream's events and the error envelope."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from llm_gateway.core.types import (
    Chunk,
    Completion,
    CompletionTask,
    Endpoint,
    GeneratedChoice,
    GeneratedToolCall,
    Origin,
    TokenUsage,
    ToolCallPiece,
)
from llm_gateway.errors import (
    DeadlineExceeded,
    GatewayError,
    ModelNotFound,
    Overloaded,
    ShedReason,
    UpstreamBadResponse,
    UpstreamServerError,
    ValidationFailed,
)
from llm_gateway.http.context import RequestContext
from llm_gateway.http.envelopes import rendered
from llm_gateway.protocol.anthropic import CountTokensRequest, MessagesRequest
from llm_gateway.routes import anthropic
from llm_gateway.routes.message_events import MessageEvents, event

TOOL = {"name": "get_weather", "input_schema": {"type": "object"}}
ORIGIN = Origin("r")


def request(**fields: Any) -> MessagesRequest:
    return MessagesRequest.model_validate(
        {"model": "mistral", "max_tokens": 16, "messages": [{"role": "user", "content": "Hi"}]}
        | fields
    )


def test_a_conversation_becomes_openai_chat_messages() -> None:
    body = request(
        system=[{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Be kind."}],
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Look:"},
                    {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"},
                    },
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "s"},
                    {"type": "text", "text": "Checking.", "citations": None},
                    {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"a": 1}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "call_1", "content": "21 C"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "call_2",
                        "content": [{"type": "text", "text": "no such city"}],
                        "is_error": True,
                    },
                    {"type": "text", "text": "And now?", "cache_control": {"type": "ephemeral"}},
                ],
            },
        ],
    )

    assert anthropic.completion_task(body, ORIGIN).messages == [
        {"role": "system", "content": "Be brief.\nBe kind."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Look:"},
                {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            ],
        },
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"a": 1}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "21 C"},
        {"role": "tool", "tool_call_id": "call_2", "content": "Error: no such city"},
        {"role": "user", "content": "And now?"},
    ]


def test_an_assistant_turn_of_tool_calls_alone_has_no_content() -> None:
    turn = {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "c", "name": "f", "input": {}}],
    }

    body = request(messages=[{"role": "user", "content": "x"}, turn])

    (_, sent) = anthropic.completion_task(body, ORIGIN).messages

    assert "content" not in sent and sent["tool_calls"][0]["function"]["arguments"] == "{}"


@pytest.mark.parametrize(
    ("choice", "sent", "extra"),
    [
        (None, None, {}),
        ({"type": "auto"}, "auto", {}),
        (
            {"type": "any", "disable_parallel_tool_use": True},
            "required",
            {"parallel_tool_calls": False},
        ),
        ({"type": "none"}, "none", {}),
        (
            {"type": "tool", "name": "get_weather"},
            {"type": "function", "function": {"name": "get_weather"}},
            {},
        ),
    ],
)
def test_tool_choice_becomes_openai_s(
    choice: dict[str, Any] | None, sent: object, extra: dict[str, Any]
) -> None:
    task = anthropic.completion_task(request(tools=[TOOL], tool_choice=choice, top_k=5), ORIGIN)

    assert task.tools == [
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
    ]
    assert task.tool_choice == sent
    assert task.extra == {**extra, "top_k": 5}


def test_no_tools_means_no_tool_choice() -> None:
    task = anthropic.prompt_task(
        CountTokensRequest.model_validate(
            {
                "model": "m",
                "messages": [{"role": "user", "content": "x"}],
                "tools": [],
                "tool_choice": {"type": "any"},
            }
        ),
        ORIGIN,
    )

    assert task.tools is None and task.tool_choice is None


def test_structured_output_becomes_a_json_schema_format() -> None:
    schema = {"type": "object", "properties": {"age": {"type": "integer"}}}

    task = anthropic.completion_task(
        request(
            output_config={"effort": "low", "format": {"type": "json_schema", "schema": schema}}
        ),
        ORIGIN,
    )

    assert task.response_format == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema},
    }


@pytest.mark.parametrize(
    ("finish_reason", "called", "stop", "expected"),
    [
        ("stop", False, None, ("end_turn", None)),
        ("stop", False, ["END"], ("end_turn", None)),
        ("eos_token", False, None, ("end_turn", None)),
        (None, False, None, ("end_turn", None)),
        ("length", False, None, ("max_tokens", None)),
        ("tool_calls", True, None, ("tool_use", None)),
        ("stop", True, None, ("tool_use", None)),
        ("length", True, None, ("max_tokens", None)),
        ("stop_sequence", False, ["END"], ("stop_sequence", "END")),
        ("stop_sequence", False, ["END", "FIN"], ("stop_sequence", None)),
    ],
)
def test_finish_reasons_become_stop_reasons(
    finish_reason: str | None,
    called: bool,
    stop: list[str] | None,
    expected: tuple[str, str | None],
) -> None:
    assert anthropic.stop_reason(finish_reason, called, stop) == expected


def test_an_answer_with_tool_calls_has_their_input_parsed() -> None:
    call = GeneratedToolCall("call_1", "f", '{"city": "Oslo"}')
    completion = Completion(
        "m", (GeneratedChoice(0, "Let me check.", "tool_calls", (call,)),), TokenUsage(7, 9)
    )

    message = anthropic.message(completion, "msg_1", None)

    assert message.model_dump() == {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "call_1", "name": "f", "input": {"city": "Oslo"}},
        ],
        "model": "m",
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 7, "output_tokens": 9},
    }


@pytest.mark.parametrize("arguments", ["[1, 2]", "{not json", '"text"'])
def test_tool_arguments_that_are_no_json_object_are_a_bad_response(arguments: str) -> None:
    with pytest.raises(UpstreamBadResponse):
        anthropic.tool_input(arguments)


def test_an_empty_answer_is_one_empty_text_block() -> None:
    completion = Completion("m", (GeneratedChoice(0, None, "stop"),), TokenUsage(1, 0))

    assert [b.model_dump() for b in anthropic.message(completion, "msg_1", None).content] == [
        {"type": "text", "text": ""}
    ]


def test_input_tokens_are_a_quarter_of_the_characters_tools_included() -> None:
    def estimate(**fields: Any) -> int:
        return anthropic.input_tokens(CompletionTask(ORIGIN, Endpoint.MESSAGES, "m", **fields))

    assert estimate(messages=[{"role": "user", "content": "Hello there"}]) == 3
    tools = [{"name": "x" * 40}]
    assert estimate(messages=[], tools=tools) == math.ceil(len(json.dumps(tools)) / 4)


def events_of(pieces: bytes) -> list[dict[str, Any]]:
    parsed = []
    for frame in pieces.decode().split("\n\n")[:-1]:
        name, data = frame.split("\n")
        payload = json.loads(data.removeprefix("data: "))
        assert name == f"event: {payload['type']}"
        parsed.append(payload)
    return parsed


def test_a_stream_of_text_then_a_tool_call_becomes_anthropic_events() -> None:
    events = MessageEvents("msg_1", "m", 5, None)
    chunks = [
        Chunk(text="Hi"),
        Chunk(tool_calls=(ToolCallPiece(0, id="call_1", name="f", arguments=""),)),
        Chunk(tool_calls=(ToolCallPiece(0, arguments='{"a":'),)),
        Chunk(tool_calls=(ToolCallPiece(0, arguments="1}"),), finish_reason="tool_calls"),
        Chunk(usage=TokenUsage(6, 4)),
    ]

    pieces = events.start() + b"".join(events.chunk(c) for c in chunks) + events.end()

    assert events_of(pieces) == [
        {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "content": [],
                "model": "m",
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 5, "output_tokens": 0},
            },
        },
        {"type": "ping"},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
        {"type": "content_block_stop", "index": 0},
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "tool_use", "id": "call_1", "name": "f", "input": {}},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '{"a":'},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": "1}"},
        },
        {"type": "content_block_stop", "index": 1},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use", "stop_sequence": None},
            "usage": {"input_tokens": 6, "output_tokens": 4},
        },
        {"type": "message_stop"},
    ]


@pytest.mark.parametrize("text", ["Hello", ' "quoted" \\ back', "naïve ✓ 🚀", "line\nbreak\x00"])
def test_a_text_delta_is_what_its_event_renders(text: str) -> None:
    events = MessageEvents("msg_1", "m", 0, None)
    events.start()
    opening = events.chunk(Chunk(text="x"))

    delta = events.chunk(Chunk(text=text))

    def rendered(text: str) -> bytes:
        delta = {"type": "text_delta", "text": text}
        return event({"type": "content_block_delta", "index": 0, "delta": delta})

    assert opening.endswith(rendered("x"))
    assert delta == rendered(text)


def test_a_stream_without_usage_reports_its_estimate_and_chunks() -> None:
    events = MessageEvents("msg_1", "m", 5, ["END"])
    events.chunk(Chunk(text="a"))
    events.chunk(Chunk(text="b", finish_reason="stop_sequence"))

    *_, delta, _ = events_of(events.end())

    assert delta["delta"] == {"stop_reason": "stop_sequence", "stop_sequence": "END"}
    assert delta["usage"] == {"input_tokens": 5, "output_tokens": 2}


def on(path: str) -> RequestContext:
    return RequestContext(request_id="req-1", path=path)


@pytest.mark.parametrize(
    ("error", "status", "kind"),
    [
        (ValidationFailed("bad", code="invalid_body"), 400, "invalid_request_error"),
        (ModelNotFound("no", code="model_not_found"), 404, "not_found_error"),
        (UpstreamServerError("5xx", code="upstream_server_error"), 502, "api_error"),
        (DeadlineExceeded(1.0), 504, "timeout_error"),
        (
            Overloaded("busy", reason=ShedReason.QUEUE_FULL, retry_after=1),
            503,
            "overloaded_error",
        ),
        (GatewayError("bug", code="internal_error"), 500, "api_error"),
    ],
)
def test_errors_on_the_messages_door_are_in_anthropic_envelope(
    error: GatewayError, status: int, kind: str
) -> None:
    for path in ("/v1/messages", "/v1/messages/count_tokens"):
        assert rendered(error, on(path), error.status) == (
            status,
            {
                "type": "error",
                "error": {"type": kind, "message": error.message},
                "request_id": "req-1",
            },
        )


def test_errors_elsewhere_keep_the_gateway_s_envelope() -> None:
    error = ValidationFailed("bad", code="invalid_body", param="messages")

    for context in (on("/v1/chat/completions"), on("/v1/messagesX"), None):
        assert rendered(error, context, 422) == (422, error.body())
    assert rendered(error, on("/v1/messages"), 405)[1]["error"]["type"] == "invalid_request_error"
