"""The events of a streamed response: in order, numbered, each of its published shape."""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter

from llm_gateway.core.types import Chunk, TokenUsage, ToolCallPiece
from llm_gateway.errors import UpstreamUnreachable
from llm_gateway.protocol.response_events import ResponseStreamEvent
from llm_gateway.protocol.responses import ResponsesRequest
from llm_gateway.translate.responses_output import Envelope
from llm_gateway.translate.responses_stream import ResponseEvents
from tests.openai_schemas import violations

EVENT = TypeAdapter(ResponseStreamEvent)
LOGPROBS = {"content": [{"token": "Hi", "logprob": -0.1, "top_logprobs": []}]}


def events_of(*frames: bytes) -> list[dict[str, Any]]:
    """The events of SSE frames, each checked against its model, OpenAI's published schema
    and its event: line."""
    events = []
    for block in b"".join(frames).decode().split("\n\n")[:-1]:
        kind, data = block.split("\n")
        event = json.loads(data.removeprefix("data: "))
        EVENT.validate_python(event)
        assert violations("response stream event", event) == []
        assert kind == f"event: {event['type']}"
        events.append(event)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    return events


def stream(**fields: Any) -> ResponseEvents:
    body = ResponsesRequest(input="Hi", **fields)
    return ResponseEvents(Envelope("abc", 1700000000, "mistral", body))


def test_text_then_two_calls_close_each_item_before_the_next() -> None:
    events = stream()
    frames = [
        events.start(),
        events.chunk(Chunk(text="Hi", logprobs=LOGPROBS)),
        events.chunk(Chunk(tool_calls=(ToolCallPiece(0, id="c1", name="f", arguments='{"a"'),))),
        events.chunk(Chunk(tool_calls=(ToolCallPiece(0, arguments=": 1}"),))),
        # Some upstreams number every call 0: the new id makes it a new call.
        events.chunk(Chunk(tool_calls=(ToolCallPiece(0, id="c2", name="g", arguments="{}"),))),
        events.chunk(Chunk(finish_reason="tool_calls")),
        events.chunk(Chunk(usage=TokenUsage(3, 9))),
        events.end(),
    ]

    sent = events_of(*frames)

    message = ["output_item.added", "content_part.added", "output_text.delta", "output_text.done"]
    call = ["output_item.added", "function_call_arguments.delta", "function_call_arguments.done"]
    assert (
        [e["type"].removeprefix("response.") for e in sent]
        == [
            "created",
            "in_progress",
            *message,
            "content_part.done",
            "output_item.done",
            *call[:2],  # two pieces of arguments
            *call[1:],
            "output_item.done",
            *call,
            "output_item.done",
            "completed",
        ]
    )
    assert sent[4]["logprobs"][0]["bytes"] == list(b"Hi")
    final = sent[-1]["response"]
    assert [(item["type"], item["id"]) for item in final["output"]] == [
        ("message", "msg_abc_0"),
        ("function_call", "fc_abc_1"),
        ("function_call", "fc_abc_2"),
    ]
    assert [item.get("arguments") for item in final["output"][1:]] == ['{"a": 1}', "{}"]
    assert final["usage"]["total_tokens"] == 12 and final["status"] == "completed"


def test_a_length_finish_ends_in_response_incomplete() -> None:
    events = stream(max_output_tokens=1)

    sent = events_of(
        events.start(),
        events.chunk(Chunk(text="Once", finish_reason="length")),
        events.end(),
    )

    assert sent[-2]["item"]["status"] == "incomplete"
    assert sent[-1]["type"] == "response.incomplete"
    assert sent[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


def test_a_failure_midway_sends_the_error_then_response_failed() -> None:
    events = stream()

    sent = events_of(
        events.start(),
        events.chunk(Chunk(text="Once")),
        events.failure(UpstreamUnreachable("The upstream dropped.", code="upstream_unreachable")),
    )

    assert [e["type"] for e in sent[-2:]] == ["error", "response.failed"]
    assert sent[-2]["code"] == "upstream_unreachable"
    failed = sent[-1]["response"]
    assert failed["error"] == {"code": "server_error", "message": "The upstream dropped."}
    assert failed["output"][0]["status"] == "incomplete"


def test_chunks_of_another_choice_are_left_out() -> None:
    events = stream()

    assert events.chunk(Chunk(text="other", index=1)) == b""


def test_text_after_a_call_is_a_new_message_with_its_own_id() -> None:
    events = stream()

    sent = events_of(
        events.start(),
        events.chunk(Chunk(tool_calls=(ToolCallPiece(0, id="c1", name="f", arguments="{}"),))),
        events.chunk(Chunk(text="Done.", finish_reason="stop")),
        events.end(),
    )

    output = sent[-1]["response"]["output"]
    assert [(item["type"], item["id"]) for item in output] == [
        ("function_call", "fc_abc_0"),
        ("message", "msg_abc_1"),
    ]
    assert output[1]["content"][0]["text"] == "Done."
