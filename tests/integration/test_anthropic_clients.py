"""What Anthropic's clients send, from the real anthropic SDK and langchain-anthropic, through
the gateway's Messages API in front of the simulator: messages streamed and not, images,
structured output, tool use and token counts. Errors: test_anthropic_errors.py."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import anthropic
import httpx
import jsonschema
import pytest
from langchain_anthropic import ChatAnthropic
from pydantic import BaseModel, Field

from tests.helpers import MODEL, Gateway
from tests.langchain_tools import (
    assert_streamed_tool_call,
    assert_tool_round_trip,
    merged_stream,
)

WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "input_schema": {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["city", "unit"],
        "additionalProperties": False,
    },
}
HELLO = [{"role": "user", "content": "Hello"}]
# A 1x1 transparent PNG.
PIXEL = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAA"
    "AABJRU5ErkJggg=="
)


class Person(BaseModel):
    name: str = Field(description="The person's name.")
    age: int = Field(ge=0, le=130)


@pytest.fixture
def client(gateway: Gateway) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=gateway.url, api_key="unused", max_retries=0) as sdk:
        yield sdk


def door(gateway: Gateway, metric: str, **labels: str) -> float:
    return gateway.sample(metric, model=MODEL, api="messages", **labels)


def chat_model(gateway: Gateway, **options: object) -> ChatAnthropic:
    return ChatAnthropic(  # type: ignore[call-arg]
        model="mistral",
        base_url=gateway.url,
        api_key="unused",  # type: ignore[arg-type]
        **({"max_retries": 0, "max_tokens": 32} | options),  # type: ignore[arg-type]
    )


def test_a_message_is_answered_in_anthropic_shape_and_counted_on_its_door(
    gateway: Gateway, client: anthropic.Anthropic
) -> None:
    labels = {"stream": "false", "outcome": "success"}
    before = door(gateway, "llm_gateway_requests_total", **labels)
    completion_tokens = door(gateway, "llm_gateway_completion_tokens_total")

    message = client.messages.create(
        model="mistral",
        max_tokens=6,
        system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        messages=HELLO,
        metadata={"user_id": "u-1"},
        thinking={"type": "enabled", "budget_tokens": 1024},
        # Sampling parameters Anthropic's SDK no longer types, which older clients send.
        extra_body={"temperature": 0.5, "top_p": 0.9, "top_k": 40},
    )

    assert message.id.startswith("msg_")
    assert (message.type, message.role, message.model) == ("message", "assistant", MODEL)
    (block,) = message.content
    assert block.type == "text" and block.text
    assert (message.stop_reason, message.stop_sequence) == ("max_tokens", None)
    assert message.usage.output_tokens == 6 and message.usage.input_tokens > 0
    assert door(gateway, "llm_gateway_requests_total", **labels) == before + 1
    assert door(gateway, "llm_gateway_completion_tokens_total") == completion_tokens + 6


def test_a_stream_sends_anthropic_events_in_order(
    gateway: Gateway, client: anthropic.Anthropic
) -> None:
    labels = {"stream": "true", "outcome": "success"}
    before = door(gateway, "llm_gateway_requests_total", **labels)

    with client.messages.stream(model="mistral", max_tokens=5, messages=HELLO) as stream:
        kinds = [event.type for event in stream if event.type != "text"]
        final = stream.get_final_message()

    assert kinds[0] == "message_start"
    assert kinds[1] == "content_block_start"
    assert set(kinds[2:-3]) == {"content_block_delta"}
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert final.content[0].type == "text" and final.content[0].text
    assert final.stop_reason == "max_tokens"
    assert final.usage.output_tokens == 5
    assert door(gateway, "llm_gateway_requests_total", **labels) == before + 1


def test_the_raw_stream_is_framed_as_anthropic_frames_it(gateway: Gateway) -> None:
    body = {"model": "mistral", "max_tokens": 3, "messages": HELLO, "stream": True}

    response = httpx.post(f"{gateway.url}/v1/messages", json=body)

    events = response.text.split("\n\n")
    assert events.pop() == ""  # the last event ends with its blank line, and nothing follows
    names = []
    for event in events:
        name, data = event.split("\n")
        assert name.startswith("event: ") and data.startswith("data: ")
        names.append(name.removeprefix("event: "))
        assert json.loads(data.removeprefix("data: "))["type"] == names[-1]
    assert response.headers["content-type"].startswith("text/event-stream")
    assert names[:3] == ["message_start", "ping", "content_block_start"]
    assert names[-2:] == ["message_delta", "message_stop"]
    delta = json.loads(events[-2].split("data: ")[1])
    assert delta["delta"] == {"stop_reason": "max_tokens", "stop_sequence": None}
    assert delta["usage"]["output_tokens"] == 3


def test_images_stop_sequences_and_ignored_features_are_accepted(
    client: anthropic.Anthropic,
) -> None:
    message = client.messages.create(
        model="mistral",
        max_tokens=4,
        stop_sequences=["never"],
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in these?"},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": PIXEL},
                    },
                    {
                        "type": "image",
                        "source": {"type": "url", "url": "https://example.com/cat.png"},
                        "cache_control": {"type": "ephemeral"},
                    },
                ],
            }
        ],
        cache_control={"type": "ephemeral"},
        output_config={"effort": "low"},
        service_tier="auto",
        speed="fast",
    )

    assert message.content[0].type == "text" and message.content[0].text
    assert message.stop_reason == "max_tokens"


def test_structured_output_parses_into_a_pydantic_model(client: anthropic.Anthropic) -> None:
    parsed = client.messages.parse(
        model="mistral", max_tokens=256, messages=HELLO, output_format=Person
    )

    person = parsed.parsed_output
    assert isinstance(person, Person)
    assert 0 <= person.age <= 130


def test_a_tool_use_round_trip(gateway: Gateway, client: anthropic.Anthropic) -> None:
    calls = gateway.sample("llm_gateway_tool_calls_total", model=MODEL)
    asked = [{"role": "user", "content": "Weather in Paris?"}]

    called = client.messages.create(
        model="mistral",
        max_tokens=64,
        messages=asked,  # type: ignore[arg-type]
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice={"type": "any"},
    )
    (use,) = called.content
    assert use.type == "tool_use"
    answered = client.messages.create(
        model="mistral",
        max_tokens=8,
        messages=[
            *asked,  # type: ignore[list-item]
            {"role": "assistant", "content": called.content},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "21 C"}],
            },
        ],
        tools=[WEATHER],  # type: ignore[list-item]
    )

    assert called.stop_reason == "tool_use"
    assert use.name == "get_weather"
    jsonschema.validate(use.input, WEATHER["input_schema"])  # type: ignore[arg-type]
    assert [block.type for block in answered.content] == ["text"]
    assert answered.stop_reason == "max_tokens"
    assert gateway.sample("llm_gateway_tool_calls_total", model=MODEL) == calls + 1


def test_a_streamed_tool_use_accumulates_its_input(client: anthropic.Anthropic) -> None:
    with client.messages.stream(
        model="mistral",
        max_tokens=64,
        messages=[{"role": "user", "content": "Weather?"}],
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice={"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
    ) as stream:
        pieces = [event.partial_json for event in stream if event.type == "input_json"]
        final = stream.get_final_message()

    (use,) = final.content
    assert use.type == "tool_use" and use.name == "get_weather"
    assert len(pieces) > 1
    assert json.loads("".join(pieces)) == use.input
    jsonschema.validate(use.input, WEATHER["input_schema"])  # type: ignore[arg-type]
    assert final.stop_reason == "tool_use"


def test_tokens_are_counted_as_the_gateway_estimates_them(client: anthropic.Anthropic) -> None:
    plain = client.messages.count_tokens(
        model="mistral", messages=[{"role": "user", "content": "Hello there"}]
    )
    with_tools = client.messages.count_tokens(
        model="mistral",
        system="Be brief.",
        messages=[{"role": "user", "content": "Hello there"}],
        tools=[WEATHER],  # type: ignore[list-item]
    )

    assert plain.input_tokens == math.ceil(len("Hello there") / 4)
    assert with_tools.input_tokens > plain.input_tokens + math.ceil(len("Be brief.") / 4)
    with pytest.raises(anthropic.NotFoundError):
        client.messages.count_tokens(model="claude-sonnet-4-5", messages=HELLO)  # type: ignore[arg-type]


def test_langchain_invokes_and_streams(gateway: Gateway) -> None:
    before = door(gateway, "llm_gateway_requests_total", stream="true", outcome="success")
    model = chat_model(gateway)

    answer = model.invoke("Hello")
    merged = merged_stream(model, "Hello")

    assert isinstance(answer.content, str) and answer.content
    assert answer.usage_metadata is not None  # type: ignore[attr-defined]
    assert answer.usage_metadata["output_tokens"] == 32  # type: ignore[attr-defined]
    assert merged.text
    assert merged.usage_metadata is not None and merged.usage_metadata["output_tokens"] == 32
    assert door(gateway, "llm_gateway_requests_total", stream="true", outcome="success") == (
        before + 1
    )


def test_langchain_binds_tools_and_answers_their_results(gateway: Gateway) -> None:
    calls = gateway.sample("llm_gateway_tool_calls_total", model=MODEL)

    assert_tool_round_trip(chat_model(gateway))

    assert gateway.sample("llm_gateway_tool_calls_total", model=MODEL) == calls + 1


def test_langchain_streams_a_tool_call(gateway: Gateway) -> None:
    assert_streamed_tool_call(chat_model(gateway, max_tokens=64))
