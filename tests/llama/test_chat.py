"""Chat in front of llama.cpp's server: the gateway's answer is the server's own.

Each test sends one request to the server directly and the same through the gateway,
greedy (temperature 0) so that both get the same tokens, and compares the two answers
and what the gateway recorded against what the server reported.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from llm_gateway.upstream.wire import plain
from tests.helpers import MODEL, Gateway, sse_payloads

pytestmark = pytest.mark.llama

MESSAGES = [
    {"role": "system", "content": "Answer in a few words."},
    {"role": "user", "content": "hello world, what is the weather in Paris today?"},
]
GREEDY = {"max_tokens": 12, "temperature": 0, "seed": 7}
WEATHER = {
    "type": "function",
    "function": {
        "name": "weather",
        "description": "Today's weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"enum": ["Paris", "Rome", "Berlin"]}},
            "required": ["city"],
        },
    },
}
TIMEOUT = httpx.Timeout(30.0)
CHAT = {"model": MODEL, "api": "chat_completions"}


def chat(url: str, model: str, **body: Any) -> httpx.Response:
    request = {"model": model, "messages": MESSAGES, **GREEDY, **body}
    return httpx.post(f"{url}/v1/chat/completions", json=request, timeout=TIMEOUT)


def streamed_text(response: httpx.Response) -> str:
    payloads = sse_payloads(response.text)
    assert payloads[-1] == "[DONE]"
    frames = [json.loads(payload) for payload in payloads[:-1]]
    return "".join(
        choice["delta"].get("content") or "" for frame in frames for choice in frame["choices"]
    )


def successes(gateway: Gateway, stream: bool) -> float:
    labels = {**CHAT, "stream": str(stream).lower()}
    return gateway.sample("llm_gateway_requests_total", **labels, outcome="success")


def test_a_chat_answer_through_the_gateway_is_the_servers_own_and_its_usage_is_counted(
    llama_url: str, llama_gateway: Gateway
) -> None:
    before = successes(llama_gateway, stream=False)
    prompt_before = llama_gateway.sample("llm_gateway_prompt_tokens_total", **CHAT)
    completion_before = llama_gateway.sample("llm_gateway_completion_tokens_total", **CHAT)

    direct = chat(llama_url, MODEL)
    through = chat(llama_gateway.url, "mistral")

    assert (direct.status_code, through.status_code) == (200, 200)
    answer, relayed = direct.json(), through.json()
    assert answer["choices"][0]["message"]["content"]
    # The same message; the gateway leaves null fields out (plain), the server sends some.
    assert plain(relayed["choices"][0]["message"]) == plain(answer["choices"][0]["message"])
    assert relayed["choices"][0]["finish_reason"] == answer["choices"][0]["finish_reason"]
    assert relayed["usage"] == answer["usage"]
    assert relayed["model"] == answer["model"] == MODEL
    assert successes(llama_gateway, stream=False) == before + 1
    usage = answer["usage"]
    assert (
        llama_gateway.sample("llm_gateway_prompt_tokens_total", **CHAT)
        == prompt_before + usage["prompt_tokens"]
    )
    assert (
        llama_gateway.sample("llm_gateway_completion_tokens_total", **CHAT)
        == completion_before + usage["completion_tokens"]
    )


def test_a_streamed_answer_through_the_gateway_has_the_servers_text(
    llama_url: str, llama_gateway: Gateway
) -> None:
    before = successes(llama_gateway, stream=True)

    direct = chat(llama_url, MODEL, stream=True)
    through = chat(llama_gateway.url, "mistral", stream=True)

    assert (direct.status_code, through.status_code) == (200, 200)
    assert through.headers["content-type"].startswith("text/event-stream")
    text = streamed_text(direct)
    assert text
    assert streamed_text(through) == text
    # The same tokens as the answer in one piece.
    assert text == chat(llama_url, MODEL).json()["choices"][0]["message"]["content"]
    assert successes(llama_gateway, stream=True) == before + 1


def test_logprobs_through_the_gateway_are_the_servers(
    llama_url: str, llama_gateway: Gateway
) -> None:
    before = successes(llama_gateway, stream=False)

    direct = chat(llama_url, MODEL, logprobs=True, top_logprobs=3)
    through = chat(llama_gateway.url, "mistral", logprobs=True, top_logprobs=3)

    assert (direct.status_code, through.status_code) == (200, 200)
    logprobs = direct.json()["choices"][0]["logprobs"]["content"]
    assert len(logprobs) == direct.json()["usage"]["completion_tokens"]
    assert all(len(entry["top_logprobs"]) == 3 for entry in logprobs)
    # The server's, each token with its bytes (OpenAI's schema requires them): the token's
    # UTF-8 where the server sent none.
    relayed = through.json()["choices"][0]["logprobs"]
    assert relayed["refusal"] is None
    assert relayed["content"] == [
        {**with_bytes(entry), "top_logprobs": [with_bytes(top) for top in entry["top_logprobs"]]}
        for entry in plain(logprobs)
    ]
    assert successes(llama_gateway, stream=False) == before + 1


def with_bytes(entry: dict[str, Any]) -> dict[str, Any]:
    return {**entry, "bytes": entry.get("bytes", list(entry["token"].encode()))}


def test_a_tool_call_through_the_gateway_is_the_servers_and_is_counted_once(
    llama_url: str, llama_gateway: Gateway
) -> None:
    before = llama_gateway.sample("llm_gateway_tool_calls_total", model=MODEL)
    choice = {"type": "function", "function": {"name": "weather"}}

    direct = chat(llama_url, MODEL, tools=[WEATHER], tool_choice=choice, max_tokens=32)
    through = chat(llama_gateway.url, "mistral", tools=[WEATHER], tool_choice=choice, max_tokens=32)

    assert (direct.status_code, through.status_code) == (200, 200)
    [call] = direct.json()["choices"][0]["message"]["tool_calls"]
    [relayed] = through.json()["choices"][0]["message"]["tool_calls"]
    assert call["function"]["name"] == relayed["function"]["name"] == "weather"
    assert json.loads(call["function"]["arguments"])["city"] in {"Paris", "Rome", "Berlin"}
    assert relayed["function"]["arguments"] == call["function"]["arguments"]
    assert through.json()["choices"][0]["finish_reason"] == "tool_calls"
    assert llama_gateway.sample("llm_gateway_tool_calls_total", model=MODEL) == before + 1
