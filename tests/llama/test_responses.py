"""OpenAI's Responses API in front of llama.cpp's server: the openai SDK's response is
the server's own chat answer, translated (same text, tool call and usage), streamed or not,
and ``responses.parse`` returns it as the pydantic model it asked for.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

import httpx
import openai
import pytest
from pydantic import BaseModel

from tests.helpers import MODEL, Gateway

pytestmark = pytest.mark.llama

INSTRUCTIONS = "Answer in a few words."
QUESTION = "hello world, what is the weather in Paris today?"
# Greedy, so that the server answers both ways with the same tokens; `seed` is no field
# of the Responses API's and travels to the upstream as an unknown field.
GREEDY: dict[str, Any] = {"temperature": 0, "extra_body": {"seed": 7}}
PARAMETERS = {
    "type": "object",
    "properties": {"city": {"enum": ["Paris", "Rome", "Berlin"]}},
    "required": ["city"],
}
RESPONSES = {"model": MODEL, "api": "responses"}


class Forecast(BaseModel):
    city: Literal["Paris", "Rome", "Berlin"]
    sunny: bool


# llama-cpp-python's server takes a JSON Schema only as Anyscale's `json_object` with a
# `schema` (a `json_schema` format is a 500 from it; TGI's `value`, which huggingface_hub
# sends, it ignores), so the test also sends it that way, as `response_format`: no field of
# the Responses API, it goes upstream as sent, over the one the gateway makes of the
# `text.format` the SDK sends. The SDK parses the answer by that format.
LLAMA_FORMAT = {"type": "json_object", "schema": Forecast.model_json_schema()}


@pytest.fixture
async def sdk(llama_gateway: Gateway) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=f"{llama_gateway.url}/v1", api_key="unused", max_retries=0, timeout=30
    ) as client:
        yield client


def direct(llama_url: str, max_tokens: int, **body: Any) -> dict[str, Any]:
    """The server's own chat answer to the same conversation."""
    messages = [{"role": "system", "content": INSTRUCTIONS}, {"role": "user", "content": QUESTION}]
    request = {"model": MODEL, "messages": messages, "max_tokens": max_tokens, "temperature": 0}
    response = httpx.post(
        f"{llama_url}/v1/chat/completions", json={**request, "seed": 7, **body}, timeout=30
    )
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    return answer


async def test_a_response_is_the_servers_answer_with_its_usage(
    llama_url: str, llama_gateway: Gateway, sdk: openai.AsyncOpenAI
) -> None:
    before = llama_gateway.sample("llm_gateway_completion_tokens_total", **RESPONSES)

    answer = direct(llama_url, 12)
    response = await sdk.responses.create(
        model="mistral", instructions=INSTRUCTIONS, input=QUESTION, max_output_tokens=12, **GREEDY
    )

    choice = answer["choices"][0]
    assert response.output_text == choice["message"]["content"] != ""
    cut = choice["finish_reason"] == "length"
    assert response.status == ("incomplete" if cut else "completed")
    assert response.usage is not None
    assert response.usage.input_tokens == answer["usage"]["prompt_tokens"]
    assert response.usage.output_tokens == answer["usage"]["completion_tokens"]
    assert llama_gateway.sample("llm_gateway_completion_tokens_total", **RESPONSES) == (
        before + response.usage.output_tokens
    )


async def test_a_streamed_response_has_the_servers_text_in_its_deltas(
    llama_url: str, sdk: openai.AsyncOpenAI
) -> None:
    answer = direct(llama_url, 12)
    stream = await sdk.responses.create(
        model="mistral",
        instructions=INSTRUCTIONS,
        input=QUESTION,
        max_output_tokens=12,
        stream=True,
        **GREEDY,
    )
    events = [event async for event in stream]

    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == answer["choices"][0]["message"]["content"]
    assert events[0].type == "response.created"
    assert events[-1].type in {"response.completed", "response.incomplete"}
    assert [e.sequence_number for e in events] == list(range(len(events)))


async def test_a_function_call_is_the_servers_tool_call(
    llama_url: str, llama_gateway: Gateway, sdk: openai.AsyncOpenAI
) -> None:
    before = llama_gateway.sample("llm_gateway_tool_calls_total", model=MODEL)
    chat_tool = {"type": "function", "function": {"name": "weather", "parameters": PARAMETERS}}

    answer = direct(
        llama_url,
        32,
        tools=[chat_tool],
        tool_choice={"type": "function", "function": {"name": "weather"}},
    )
    response = await sdk.responses.create(
        model="mistral",
        instructions=INSTRUCTIONS,
        input=QUESTION,
        max_output_tokens=32,
        tools=[{"type": "function", "name": "weather", "parameters": PARAMETERS, "strict": None}],
        tool_choice={"type": "function", "name": "weather"},
        **GREEDY,
    )

    [call] = answer["choices"][0]["message"]["tool_calls"]
    [item] = response.output
    assert item.type == "function_call" and item.name == "weather"
    assert item.arguments == call["function"]["arguments"]
    assert json.loads(item.arguments)["city"] in {"Paris", "Rome", "Berlin"}
    assert llama_gateway.sample("llm_gateway_tool_calls_total", model=MODEL) == before + 1


@pytest.mark.parametrize("stream", [False, True])
def test_parse_returns_the_servers_json_as_the_pydantic_model(
    llama_url: str,
    either_gateway: Gateway,
    openai_sdk: Callable[[str], openai.OpenAI],
    stream: bool,
) -> None:
    labels = {**RESPONSES, "stream": str(stream).lower(), "outcome": "success"}
    before = either_gateway.sample("llm_gateway_requests_total", **labels)
    sdk = openai_sdk(either_gateway.url)
    asked: dict[str, Any] = {
        "model": "mistral",
        "instructions": INSTRUCTIONS,
        "input": QUESTION,
        "max_output_tokens": 64,
        "text_format": Forecast,
        "temperature": 0,
        "extra_body": {"seed": 7, "response_format": LLAMA_FORMAT},
    }

    answer = direct(llama_url, 64, response_format=LLAMA_FORMAT)
    if stream:
        with sdk.responses.stream(**asked) as events:
            response = events.get_final_response()
    else:
        response = sdk.responses.parse(**asked)

    text = answer["choices"][0]["message"]["content"]
    assert answer["choices"][0]["finish_reason"] == "stop"
    assert response.status == "completed" and response.output_text == text
    assert response.output_parsed == Forecast.model_validate_json(text)
    assert response.text is not None and response.text.format.type == "json_schema"
    assert response.text.format.name == "Forecast"
    assert either_gateway.sample("llm_gateway_requests_total", **labels) == before + 1
