"""OpenAI's Responses API, driven by the real openai SDK through the gateway in front of the
simulator: text and item inputs, streaming events, structured output, a function-call round
trip and incomplete answers, each with the metric it moves (refusals and upstream faults:
``test_responses_refusals.py``)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import openai
import pytest
from pydantic import BaseModel, Field

from tests.helpers import MODEL, Gateway

# A function tool as the Responses API defines one: name and parameters at the top level.
QUOTE: dict[str, Any] = {
    "type": "function",
    "name": "get_quote",
    "description": "A stock's latest price.",
    "parameters": {
        "type": "object",
        "properties": {
            "symbol": {"type": "string"},
            "days": {"type": "integer", "minimum": 1, "maximum": 30},
            "currency": {"type": "string", "enum": ["EUR", "USD"]},
        },
        "required": ["symbol", "currency"],
        "additionalProperties": False,
    },
    "strict": True,
}
MESSAGE_EVENTS = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
]


class Person(BaseModel):
    name: str
    age: int = Field(ge=0, le=130)
    languages: list[str]


def requests(gateway: Gateway, stream: str, outcome: str = "success") -> float:
    return gateway.sample(
        "llm_gateway_requests_total",
        model=MODEL,
        api="responses",
        stream=stream,
        outcome=outcome,
    )


def tokens(gateway: Gateway, kind: str) -> float:
    return gateway.sample(f"llm_gateway_{kind}_tokens_total", model=MODEL, api="responses")


def collapsed(kinds: list[str]) -> list[str]:
    """Event types with runs of the same type collapsed into one."""
    return [kind for i, kind in enumerate(kinds) if i == 0 or kinds[i - 1] != kind]


async def test_a_string_input_is_answered_with_a_completed_response_and_its_usage(
    gateway: Gateway, client: openai.AsyncOpenAI
) -> None:
    before = requests(gateway, "false")
    prompt_before, completion_before = tokens(gateway, "prompt"), tokens(gateway, "completion")

    response = await client.responses.create(
        model="mistral",
        input="What is Prometheus?",
        instructions="Answer briefly.",
        metadata={"team": "sre"},
        max_output_tokens=200,
        temperature=0.5,
        store=False,
    )

    assert response.id.startswith("resp_") and response.object == "response"
    assert response.status == "completed" and response.incomplete_details is None
    assert response.model == MODEL
    (message,) = response.output
    assert message.type == "message" and message.status == "completed"
    assert message.content[0].type == "output_text" and message.content[0].annotations == []
    assert response.output_text == message.content[0].text != ""
    assert response.instructions == "Answer briefly."
    assert response.metadata == {"team": "sre"}
    assert response.temperature == 0.5 and response.max_output_tokens == 200
    assert response.tool_choice == "auto" and response.tools == []
    usage = response.usage
    assert usage is not None and usage.input_tokens > 0 and usage.output_tokens > 0
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert usage.input_tokens_details.cached_tokens == 0
    assert usage.output_tokens_details.reasoning_tokens == 0
    assert requests(gateway, "false") == before + 1
    assert tokens(gateway, "prompt") == prompt_before + usage.input_tokens
    assert tokens(gateway, "completion") == completion_before + usage.output_tokens


async def test_an_item_list_of_every_role_and_part_is_answered(client: openai.AsyncOpenAI) -> None:
    response = await client.responses.create(
        model="nemo",
        input=[
            {"role": "developer", "content": "Be brief."},
            {"role": "system", "content": [{"type": "input_text", "text": "Be kind."}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]},
            {"role": "assistant", "content": [{"type": "output_text", "text": "Hello."}]},
            {"role": "user", "content": "Tell me more."},
        ],
        max_output_tokens=16,
        include=["message.output_text.logprobs"],
        top_logprobs=2,
    )

    content = response.output[0].content[0]  # type: ignore[union-attr]
    assert content.type == "output_text"
    assert content.logprobs and "".join(entry.token for entry in content.logprobs) == content.text
    assert all(len(entry.top_logprobs) == 2 for entry in content.logprobs)


async def test_a_stream_sends_the_typed_events_in_order_then_the_final_response(
    gateway: Gateway, client: openai.AsyncOpenAI
) -> None:
    before = requests(gateway, "true")

    async with client.responses.stream(
        model="mistral", input="Tell me a story.", max_output_tokens=200
    ) as stream:
        events = [event async for event in stream]
        final = await stream.get_final_response()

    kinds = [event.type for event in events]
    assert collapsed(kinds) == [*MESSAGE_EVENTS, "response.completed"]
    numbers = [event.sequence_number for event in events]
    assert numbers == list(range(len(events)))
    deltas = [e for e in events if e.type == "response.output_text.delta"]
    assert final.status == "completed" and final.output_text == "".join(e.delta for e in deltas)
    assert deltas[-1].snapshot == final.output_text != ""  # the SDK's own accumulation
    assert final.usage is not None and final.usage.output_tokens == kinds.count(
        "response.output_text.delta"
    )
    assert requests(gateway, "true") == before + 1


@pytest.mark.parametrize("stream", [False, True])
async def test_parse_with_a_pydantic_text_format_returns_the_model(
    gateway: Gateway, client: openai.AsyncOpenAI, stream: bool
) -> None:
    before = requests(gateway, str(stream).lower())
    asked: dict[str, Any] = {"model": "mistral", "input": "Describe him.", "text_format": Person}

    if stream:
        async with client.responses.stream(**asked) as events:
            response = await events.get_final_response()
    else:
        response = await client.responses.parse(**asked)

    # The simulator answers JSON of the schema it was sent (the SDK's, strict).
    assert isinstance(response.output_parsed, Person)
    assert json.loads(response.output_text) == response.output_parsed.model_dump()
    assert response.text is not None and response.text.format.type == "json_schema"
    assert response.text.format.name == "Person" and response.text.format.strict
    assert requests(gateway, str(stream).lower()) == before + 1


async def test_a_function_call_round_trip_ends_in_an_answer(
    gateway: Gateway, client: openai.AsyncOpenAI
) -> None:
    before = gateway.sample("llm_gateway_tool_calls_total", model=MODEL)
    question: list[Any] = [{"role": "user", "content": "Price of ACME?"}]

    asked = await client.responses.create(model="mistral", input=question, tools=[QUOTE])  # type: ignore[list-item]
    (call,) = asked.output
    assert call.type == "function_call" and call.name == "get_quote"
    assert call.id is not None and call.id.startswith("fc_")
    jsonschema.validate(json.loads(call.arguments), QUOTE["parameters"])
    result = {"type": "function_call_output", "call_id": call.call_id, "output": '{"temp": 21}'}
    answered = await client.responses.create(
        model="mistral",
        input=[*question, *asked.output, result],  # type: ignore[list-item]
        tools=[QUOTE],  # type: ignore[list-item]
        max_output_tokens=200,
    )

    assert answered.status == "completed"
    assert [item.type for item in answered.output] == ["message"]
    assert answered.output_text
    assert gateway.sample("llm_gateway_tool_calls_total", model=MODEL) == before + 1


async def test_a_streamed_function_call_sends_its_argument_events(
    client: openai.AsyncOpenAI,
) -> None:
    async with client.responses.stream(
        model="mistral",
        input="Price of INIT?",
        tools=[QUOTE],  # type: ignore[list-item]
        tool_choice={"type": "function", "name": "get_quote"},
    ) as stream:
        events = [event async for event in stream]
        final = await stream.get_final_response()

    assert collapsed([event.type for event in events]) == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    (call,) = final.output
    assert call.type == "function_call" and call.status == "completed"
    jsonschema.validate(json.loads(call.arguments), QUOTE["parameters"])
    assert final.tool_choice.name == "get_quote"  # type: ignore[union-attr]


async def test_max_output_tokens_leaves_the_response_incomplete(
    client: openai.AsyncOpenAI,
) -> None:
    whole = await client.responses.create(
        model="mistral", input="Tell me a long story.", max_output_tokens=3
    )
    stream = await client.responses.create(
        model="mistral", input="Tell me a long story.", max_output_tokens=3, stream=True
    )
    events = [event async for event in stream]

    assert whole.status == "incomplete"
    assert whole.incomplete_details is not None
    assert whole.incomplete_details.reason == "max_output_tokens"
    assert whole.output[0].status == "incomplete" and whole.usage is not None
    assert whole.usage.output_tokens == 3
    last = events[-1]
    assert last.type == "response.incomplete"
    assert last.response.incomplete_details is not None
    assert last.response.incomplete_details.reason == "max_output_tokens"
