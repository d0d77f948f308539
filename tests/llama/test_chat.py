"""Chat in front of llama.cpp's server: the gateway's answer is the server's own.

Each test sends one request to the server directly and the same through the gateway,
greedy (temperature 0) so that both get the same tokens, and compares the two answers
and what the gateway recorded against what the server reported; on both upstream kinds
where both serve the case. llama.cpp reports no usage in a stream: the gateway counts
its estimate there, and says so in ``llm_gateway_estimated_tokens_total``.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from llm_gateway.core.types import estimate_tokens
from llm_gateway.upstream.wire import plain
from tests.helpers import MODEL, Gateway, sse_payloads
from tests.llama.server import CONTEXT_TOKENS

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
    llama_url: str, either_gateway: Gateway
) -> None:
    before = successes(either_gateway, stream=False)
    prompt_before = either_gateway.sample("llm_gateway_prompt_tokens_total", **CHAT)
    completion_before = either_gateway.sample("llm_gateway_completion_tokens_total", **CHAT)
    estimated_before = either_gateway.estimated_tokens(MODEL)

    direct = chat(llama_url, MODEL)
    through = chat(either_gateway.url, "mistral")

    assert (direct.status_code, through.status_code) == (200, 200)
    answer, relayed = direct.json(), through.json()
    assert answer["choices"][0]["message"]["content"]
    # The same message; the gateway leaves null fields out (plain), the server sends some.
    assert plain(relayed["choices"][0]["message"]) == plain(answer["choices"][0]["message"])
    assert relayed["choices"][0]["finish_reason"] == answer["choices"][0]["finish_reason"]
    assert relayed["usage"] == answer["usage"]
    assert relayed["model"] == answer["model"] == MODEL
    assert successes(either_gateway, stream=False) == before + 1
    usage = answer["usage"]
    assert (
        either_gateway.sample("llm_gateway_prompt_tokens_total", **CHAT)
        == prompt_before + usage["prompt_tokens"]
    )
    assert (
        either_gateway.sample("llm_gateway_completion_tokens_total", **CHAT)
        == completion_before + usage["completion_tokens"]
    )
    # The server's counts, no estimate.
    assert either_gateway.estimated_tokens(MODEL) == estimated_before


def test_a_streamed_answer_through_the_gateway_has_the_servers_text(
    llama_url: str, either_gateway: Gateway
) -> None:
    before = successes(either_gateway, stream=True)

    direct = chat(llama_url, MODEL, stream=True)
    through = chat(either_gateway.url, "mistral", stream=True)

    assert (direct.status_code, through.status_code) == (200, 200)
    assert through.headers["content-type"].startswith("text/event-stream")
    text = streamed_text(direct)
    assert text
    assert streamed_text(through) == text
    # The same tokens as the answer in one piece.
    assert text == chat(llama_url, MODEL).json()["choices"][0]["message"]["content"]
    assert successes(either_gateway, stream=True) == before + 1


def test_logprobs_through_the_gateway_are_the_servers(
    llama_url: str, either_gateway: Gateway
) -> None:
    before = successes(either_gateway, stream=False)

    direct = chat(llama_url, MODEL, logprobs=True, top_logprobs=3)
    through = chat(either_gateway.url, "mistral", logprobs=True, top_logprobs=3)

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
    assert successes(either_gateway, stream=False) == before + 1


def with_bytes(entry: dict[str, Any]) -> dict[str, Any]:
    return {**entry, "bytes": entry.get("bytes", list(entry["token"].encode()))}


def test_a_tool_call_through_the_gateway_is_the_servers_and_is_counted_once(
    llama_url: str, either_gateway: Gateway
) -> None:
    before = either_gateway.sample("llm_gateway_tool_calls_total", model=MODEL)
    choice = {"type": "function", "function": {"name": "weather"}}

    direct = chat(llama_url, MODEL, tools=[WEATHER], tool_choice=choice, max_tokens=32)
    through = chat(
        either_gateway.url, "mistral", tools=[WEATHER], tool_choice=choice, max_tokens=32
    )

    assert (direct.status_code, through.status_code) == (200, 200)
    [call] = direct.json()["choices"][0]["message"]["tool_calls"]
    [relayed] = through.json()["choices"][0]["message"]["tool_calls"]
    assert call["function"]["name"] == relayed["function"]["name"] == "weather"
    assert json.loads(call["function"]["arguments"])["city"] in {"Paris", "Rome", "Berlin"}
    assert relayed["function"]["arguments"] == call["function"]["arguments"]
    assert through.json()["choices"][0]["finish_reason"] == "tool_calls"
    assert either_gateway.sample("llm_gateway_tool_calls_total", model=MODEL) == before + 1


def test_a_streams_tokens_are_the_gateways_estimate_as_the_server_reports_none(
    llama_url: str, either_gateway: Gateway
) -> None:
    prompt_before = either_gateway.sample("llm_gateway_prompt_tokens_total", **CHAT)
    completion_before = either_gateway.sample("llm_gateway_completion_tokens_total", **CHAT)
    estimated_before = either_gateway.estimated_tokens(MODEL)
    include_usage = {"stream_options": {"include_usage": True}}

    direct = chat(llama_url, MODEL, stream=True, **include_usage)
    through = chat(either_gateway.url, "mistral", stream=True, **include_usage)

    assert (direct.status_code, through.status_code) == (200, 200)
    assert '"usage"' not in direct.text  # llama.cpp counts nothing in a stream
    pieces = [
        choice["delta"]["content"]
        for payload in sse_payloads(direct.text)[:-1]
        for choice in json.loads(payload)["choices"]
        if choice["delta"].get("content")
    ]
    # The README's rule: a token per four characters, and a text frame at least one.
    prompt = estimate_tokens(sum(len(message["content"]) for message in MESSAGES))
    completion = max(len(pieces), estimate_tokens(len("".join(pieces))))
    usage = json.loads(sse_payloads(through.text)[-2])["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (prompt, completion)
    assert streamed_text(through) == "".join(pieces)
    assert either_gateway.sample("llm_gateway_prompt_tokens_total", **CHAT) == (
        prompt_before + prompt
    )
    assert either_gateway.sample("llm_gateway_completion_tokens_total", **CHAT) == (
        completion_before + completion
    )
    assert either_gateway.estimated_tokens(MODEL) == (
        estimated_before[0] + prompt,
        estimated_before[1] + completion,
    )


def test_a_streamed_tool_call_is_the_servers_named_once_and_counted_once(
    llama_url: str, either_gateway: Gateway
) -> None:
    before = either_gateway.sample("llm_gateway_tool_calls_total", model=MODEL)
    choice = {"type": "function", "function": {"name": "weather"}}
    forced = {"tools": [WEATHER], "tool_choice": choice, "max_tokens": 32, "stream": True}

    direct = chat(llama_url, MODEL, **forced)
    through = chat(either_gateway.url, "mistral", **forced)

    assert (direct.status_code, through.status_code) == (200, 200)
    sent, relayed = tool_call_deltas(direct), tool_call_deltas(through)
    # llama.cpp names the call in every delta; the gateway names it once.
    assert len(sent) > 1 and all(d["function"].get("name") == "weather" for d in sent)
    assert [d["function"].get("name") for d in relayed] == ["weather"] + [None] * (len(relayed) - 1)
    assert sum(1 for d in relayed if d.get("id")) == 1
    arguments = "".join(d["function"].get("arguments") or "" for d in relayed)
    assert arguments == "".join(d["function"].get("arguments") or "" for d in sent)
    assert json.loads(arguments)["city"] in {"Paris", "Rome", "Berlin"}
    assert either_gateway.sample("llm_gateway_tool_calls_total", model=MODEL) == before + 1


def tool_call_deltas(response: httpx.Response) -> list[dict[str, Any]]:
    """A streamed answer's tool-call deltas, in order."""
    return [
        call
        for payload in sse_payloads(response.text)[:-1]
        for choice in json.loads(payload)["choices"]
        for call in choice["delta"].get("tool_calls") or ()
    ]


def test_max_tokens_beyond_the_context_is_accepted_and_clamped_by_the_server(
    llama_url: str, either_gateway: Gateway
) -> None:
    before = successes(either_gateway, stream=False)
    # A prompt that nearly fills the context, so that the clamped answer is short: a token
    # a word, 24 more from the chat template, 99 left for the answer. (Closer to the end,
    # llama-cpp-python fails some prompts, directly too: a 500, "llama_decode returned 1".)
    crowded = [{"role": "user", "content": " ".join(["hello"] * (CONTEXT_TOKENS - 124))}]

    direct = chat(llama_url, MODEL, messages=crowded, max_tokens=100_000)
    through = chat(either_gateway.url, "mistral", messages=crowded, max_tokens=100_000)

    assert (direct.status_code, through.status_code) == (200, 200)
    answer, relayed = direct.json(), through.json()
    # The server writes until its context is full: max_tokens clamped to what is left.
    assert answer["choices"][0]["finish_reason"] == "length"
    assert answer["usage"]["total_tokens"] == CONTEXT_TOKENS
    assert answer["usage"]["completion_tokens"] == 99
    assert relayed["choices"][0]["message"]["content"] == answer["choices"][0]["message"]["content"]
    assert relayed["usage"] == answer["usage"]
    assert successes(either_gateway, stream=False) == before + 1
