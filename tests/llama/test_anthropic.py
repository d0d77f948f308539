"""Anthropic's Messages API in front of llama.cpp's server, through the ``openai`` kind: the
anthropic SDK's message (and LangChain's ``ChatAnthropic``'s) holds the server's own chat
answer to the same conversation, greedy; its usage is the server's, or the gateway's
estimate in a stream (the server reports none there).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest
from anthropic.types import MessageParam, TextBlock, ToolParam
from langchain_anthropic import ChatAnthropic

from llm_gateway.core.types import estimate_tokens
from tests.helpers import MODEL, Gateway

pytestmark = pytest.mark.llama

SYSTEM = "Answer in a few words."
QUESTION = "hello world, what is the weather in Paris today?"
PARAMETERS: dict[str, object] = {
    "type": "object",
    "properties": {"city": {"enum": ["Paris", "Rome", "Berlin"]}},
    "required": ["city"],
}
WEATHER: ToolParam = {
    "name": "weather",
    "description": "Today's weather in a city.",
    "input_schema": PARAMETERS,
}
CHAT_WEATHER = {
    "type": "function",
    "function": {
        "name": "weather",
        "description": "Today's weather in a city.",
        "parameters": PARAMETERS,
    },
}
ASKED: list[MessageParam] = [{"role": "user", "content": QUESTION}]
MESSAGES = {"model": MODEL, "api": "messages"}
# Greedy: the anthropic SDK 2 has no temperature parameter; the Messages API has the field.
GREEDY = {"temperature": 0}


@pytest.fixture(scope="module")
def client(llama_openai_gateway: Gateway) -> Iterator[anthropic.Anthropic]:
    url = llama_openai_gateway.url
    with anthropic.Anthropic(base_url=url, api_key="unused", max_retries=0, timeout=30) as sdk:
        yield sdk


def direct(llama_url: str, max_tokens: int, *turns: dict[str, Any], **body: Any) -> dict[str, Any]:
    """The server's own chat answer to the conversation, greedy."""
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}]
    request = {"model": MODEL, "messages": [*messages, *turns], "max_tokens": max_tokens}
    response = httpx.post(
        f"{llama_url}/v1/chat/completions", json={**request, "temperature": 0, **body}, timeout=30
    )
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    return answer


def counted(gateway: Gateway, name: str) -> float:
    return gateway.sample(f"llm_gateway_{name}_tokens_total", **MESSAGES)


def test_a_message_is_the_servers_chat_answer_with_its_usage(
    llama_url: str, llama_openai_gateway: Gateway, client: anthropic.Anthropic
) -> None:
    prompt = counted(llama_openai_gateway, "prompt")
    completion = counted(llama_openai_gateway, "completion")
    estimated = llama_openai_gateway.estimated_tokens(MODEL)

    answer = direct(llama_url, 12)
    message = client.messages.create(
        model="mistral", system=SYSTEM, messages=ASKED, max_tokens=12, extra_body=GREEDY
    )

    choice = answer["choices"][0]
    [block] = message.content
    assert isinstance(block, TextBlock)
    assert block.text == choice["message"]["content"] != ""
    assert message.stop_reason == (
        "max_tokens" if choice["finish_reason"] == "length" else "end_turn"
    )
    assert message.usage.input_tokens == answer["usage"]["prompt_tokens"]
    assert message.usage.output_tokens == answer["usage"]["completion_tokens"]
    assert counted(llama_openai_gateway, "prompt") == prompt + message.usage.input_tokens
    assert counted(llama_openai_gateway, "completion") == completion + message.usage.output_tokens
    assert llama_openai_gateway.estimated_tokens(MODEL) == estimated  # the server's counts


def test_a_streamed_message_has_the_servers_text_and_the_gateways_estimate(
    llama_url: str, llama_openai_gateway: Gateway, client: anthropic.Anthropic
) -> None:
    completion = counted(llama_openai_gateway, "completion")
    estimated = llama_openai_gateway.estimated_tokens(MODEL)

    answer = direct(llama_url, 12)
    with client.messages.stream(
        model="mistral", system=SYSTEM, messages=ASKED, max_tokens=12, extra_body=GREEDY
    ) as stream:
        text = "".join(stream.text_stream)
        message = stream.get_final_message()

    assert text == answer["choices"][0]["message"]["content"] != ""
    # No usage from the server in a stream: the prompt's estimated, a token per 4 characters.
    assert message.usage.input_tokens == estimate_tokens(len(SYSTEM) + len(QUESTION))
    assert message.usage.output_tokens >= estimate_tokens(len(text))
    assert counted(llama_openai_gateway, "completion") == completion + message.usage.output_tokens
    # Both counts the gateway's: both in llm_gateway_estimated_tokens_total.
    assert llama_openai_gateway.estimated_tokens(MODEL) == (
        estimated[0] + message.usage.input_tokens,
        estimated[1] + message.usage.output_tokens,
    )


def test_a_forced_tool_use_round_trip_is_the_servers_call_then_its_answer(
    llama_url: str, llama_openai_gateway: Gateway, client: anthropic.Anthropic
) -> None:
    calls = llama_openai_gateway.sample("llm_gateway_tool_calls_total", model=MODEL)

    answer = direct(
        llama_url,
        32,
        tools=[CHAT_WEATHER],
        tool_choice={"type": "function", "function": {"name": "weather"}},
    )
    asked = client.messages.create(
        model="mistral",
        system=SYSTEM,
        messages=ASKED,
        max_tokens=32,
        extra_body=GREEDY,
        tools=[WEATHER],
        tool_choice={"type": "tool", "name": "weather"},
    )

    [call] = answer["choices"][0]["message"]["tool_calls"]
    [use] = asked.content
    assert use.type == "tool_use" and use.name == "weather"
    assert use.input == json.loads(call["function"]["arguments"])
    assert asked.stop_reason == "tool_use"
    assert llama_openai_gateway.sample("llm_gateway_tool_calls_total", model=MODEL) == calls + 1

    # The call's result sent back: the answer is the server's to the same chat conversation.
    called = {
        "id": use.id,
        "type": "function",
        "function": {"name": "weather", "arguments": json.dumps(use.input)},
    }
    result = direct(
        llama_url,
        12,
        {"role": "assistant", "tool_calls": [called]},
        {"role": "tool", "tool_call_id": use.id, "content": "Sunny, 21 C"},
        tools=[CHAT_WEATHER],
    )
    answered = client.messages.create(
        model="mistral",
        system=SYSTEM,
        messages=[
            *ASKED,
            {"role": "assistant", "content": asked.content},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": use.id, "content": "Sunny, 21 C"}
                ],
            },
        ],
        max_tokens=12,
        extra_body=GREEDY,
        tools=[WEATHER],
    )

    [block] = answered.content
    assert isinstance(block, TextBlock)
    assert block.text == result["choices"][0]["message"]["content"]
    assert answered.usage.input_tokens == result["usage"]["prompt_tokens"]


def test_count_tokens_is_the_gateways_estimate_without_asking_the_server(
    llama_openai_gateway: Gateway, client: anthropic.Anthropic
) -> None:
    requests = llama_openai_gateway.sample(
        "llm_gateway_upstream_endpoint_requests_total",
        outcome="success",
        upstream="default",
        upstream_url=llama_openai_gateway.settings.upstream_endpoints[0],
    )

    count = client.messages.count_tokens(model="mistral", system=SYSTEM, messages=ASKED)
    with_tools = client.messages.count_tokens(
        model="mistral",
        system=SYSTEM,
        messages=ASKED,
        tools=[WEATHER],
    )

    assert count.input_tokens == estimate_tokens(len(SYSTEM) + len(QUESTION))
    assert with_tools.input_tokens > count.input_tokens  # the tools' definitions count
    assert (
        llama_openai_gateway.sample(
            "llm_gateway_upstream_endpoint_requests_total",
            outcome="success",
            upstream="default",
            upstream_url=llama_openai_gateway.settings.upstream_endpoints[0],
        )
        == requests
    )


def test_langchains_chat_anthropic_gets_the_servers_answer(
    llama_url: str, llama_openai_gateway: Gateway
) -> None:
    model = ChatAnthropic(
        model="mistral",
        base_url=llama_openai_gateway.url,
        api_key="unused",
        max_tokens=12,
        temperature=0,
        max_retries=0,
    )

    reply = model.invoke([("system", SYSTEM), ("human", QUESTION)])

    answer = direct(llama_url, 12)
    assert reply.content == answer["choices"][0]["message"]["content"]
    assert reply.usage_metadata is not None
    assert reply.usage_metadata["input_tokens"] == answer["usage"]["prompt_tokens"]
    assert reply.usage_metadata["output_tokens"] == answer["usage"]["completion_tokens"]
