"""What the Responses API door refuses, and how failures reach the openai SDK: stored state,
built-in tools and files (400), malformed requests (422), upstream faults before and
after the first event, and a client that walks away, each with the metric it moves."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import openai
import pytest

from tests.helpers import MODEL, Gateway, wait_for

FUNCTION = {"type": "function", "name": "get_quote", "parameters": {"type": "object"}}


def errors(gateway: Gateway, stream: str) -> float:
    return gateway.sample(
        "llm_gateway_requests_total", model=MODEL, api="responses", stream=stream, outcome="error"
    )


# A field that asks for what a stateless gateway cannot do → the error's code and param, and
# a word its message holds.
REFUSALS: dict[str, tuple[dict[str, Any], str, str, str]] = {
    "previous response": (
        {"previous_response_id": "resp_1"},
        "unsupported_parameter",
        "previous_response_id",
        "stateless",
    ),
    "conversation": ({"conversation": "conv_1"}, "unsupported_parameter", "conversation", "store"),
    "web search": (
        {"tools": [{"type": "web_search"}]},
        "unsupported_tool",
        "tools[0]",
        "web_search",
    ),
    "code interpreter": (
        {"tools": [FUNCTION, {"type": "code_interpreter", "container": {"type": "auto"}}]},
        "unsupported_tool",
        "tools[1]",
        "'code_interpreter'",
    ),
    "item reference": (
        {"input": [{"type": "item_reference", "id": "msg_1"}]},
        "unsupported_input",
        "input[0].type",
        "'item_reference'",
    ),
    "file": (
        {"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]},
        "unsupported_input",
        "input[0].content[0]",
        "input_file",
    ),
}


@pytest.mark.parametrize("case", REFUSALS)
async def test_what_a_stateless_gateway_cannot_do_is_a_400_naming_it(
    gateway: Gateway, case: str
) -> None:
    fields, code, param, named = REFUSALS[case]
    before = gateway.core_requests("responses")

    response = httpx.post(f"{gateway.url}/v1/responses", json={"input": "Hi", **fields})

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["param"]) == (code, param)
    assert named in error["message"]
    assert gateway.core_requests("responses") == before  # refused before the upstream was asked


async def test_the_sdk_raises_a_bad_request_for_a_built_in_tool(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        await client.responses.create(model="mistral", input="Hi", tools=[{"type": "web_search"}])

    assert raised.value.code == "unsupported_tool"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "input"),
        ({"input": 42}, "input"),
        ({"input": [{"role": "robot", "content": "Hi"}]}, "input"),
        ({"input": "Hi", "max_output_tokens": 0}, "max_output_tokens"),
        (
            {"input": "Hi", "text": {"format": {"type": "json_schema"}}},
            "text.format.json_schema.name",
        ),
    ],
)
def test_a_malformed_request_is_a_422_naming_the_field(
    gateway: Gateway, body: dict[str, Any], param: str
) -> None:
    before = gateway.core_requests("responses")

    response = httpx.post(f"{gateway.url}/v1/responses", json=body)

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_body"
    assert error["param"].startswith(param)
    assert gateway.core_requests("responses") == before


def test_a_stored_response_cannot_be_retrieved(gateway: Gateway) -> None:
    response = httpx.get(f"{gateway.url}/v1/responses/resp_1")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_an_upstream_rate_limit_reaches_the_sdk_as_a_429(
    gateway: Gateway, client: openai.AsyncOpenAI
) -> None:
    before = errors(gateway, "false")

    with pytest.raises(openai.RateLimitError) as raised:
        await client.responses.create(
            model="mistral", input="Hi", extra_headers={"X-Simulator-Fault": "rate_limit"}
        )

    assert raised.value.response.headers["retry-after"] == "1"
    assert raised.value.code == "upstream_rate_limited"
    assert errors(gateway, "false") == before + 1


async def test_a_stream_dropped_midway_ends_with_an_error_and_response_failed(
    gateway: Gateway, client: openai.AsyncOpenAI
) -> None:
    before = errors(gateway, "true")

    stream = await client.responses.create(
        model="mistral",
        input="Tell me a story.",
        max_output_tokens=20,
        stream=True,
        extra_headers={"X-Simulator-Fault": "drop"},
    )
    events = [event async for event in stream]

    assert events[0].type == "response.created"
    assert [event.type for event in events[-2:]] == ["error", "response.failed"]
    error, last = events[-2:]
    assert error.code == "upstream_unreachable"  # type: ignore[union-attr]
    assert last.response.status == "failed"  # type: ignore[union-attr]
    assert last.response.error is not None and last.response.error.code == "server_error"  # type: ignore[union-attr]
    assert errors(gateway, "true") == before + 1


async def test_an_abandoned_stream_is_recorded_cancelled_and_frees_its_upstream(
    slow_gateway: Gateway,
) -> None:
    labels = {"model": MODEL, "api": "responses", "stream": "true"}
    cancelled = slow_gateway.sample("llm_gateway_requests_total", **labels, outcome="cancelled")
    body = {"input": "Tell me a long story.", "max_output_tokens": 200, "stream": True}

    async with (
        httpx.AsyncClient(base_url=slow_gateway.url, timeout=10) as http,
        http.stream("POST", "/v1/responses", json=body) as response,
    ):
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line == "event: response.output_text.delta":
                break  # one token in: walk away, closing the connection

    await asyncio.to_thread(
        wait_for,
        lambda: (
            slow_gateway.sample("llm_gateway_requests_total", **labels, outcome="cancelled")
            == cancelled + 1
        ),
    )
    await asyncio.to_thread(
        wait_for,
        lambda: slow_gateway.sample("llm_gateway_upstream_requests_in_flight", model=MODEL) == 0,
    )
