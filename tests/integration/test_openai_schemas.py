"""The OpenAI doors' answers against OpenAI's published schemas, checked directly.

Every answer the suite sees is checked already (``tests/openai_schemas``, wired in
``tests/conftest.py``); these tests name the points OpenAI's schemas insist on, show the
checker is not vacuous, and pin what the gateway accepts and refuses of the request schema.
"""

from __future__ import annotations

import json

import httpx
import pytest

from tests.helpers import KINDS, MODEL, Gateway, either_kind, sse_payloads
from tests.openai_schemas import answer_violations, violations

HELLO = [{"role": "user", "content": "Hello"}]


@pytest.fixture(params=KINDS)
def gateway(request: pytest.FixtureRequest, hf_gateway: Gateway, gateway: Gateway) -> Gateway:
    """Each test on both upstream kinds: each reads its answers its own way."""
    return either_kind(request, hf_gateway, gateway)


def served(gateway: Gateway, stream: str = "false") -> float:
    return gateway.sample(
        "llm_gateway_requests_total",
        model=MODEL,
        api="chat_completions",
        stream=stream,
        outcome="success",
    )


def chat(gateway: Gateway, **body: object) -> httpx.Response:
    sent = {"model": "mistral", "messages": HELLO, "max_tokens": 3, **body}
    return httpx.post(f"{gateway.url}/v1/chat/completions", json=sent, timeout=10)


def test_a_chat_answer_has_a_null_refusal_no_null_tool_calls_and_logprobs_with_bytes(
    gateway: Gateway,
) -> None:
    before = served(gateway)

    response = chat(gateway, logprobs=True, top_logprobs=2)

    assert response.status_code == 200
    answer = response.json()
    assert violations("chat.completion", answer) == []
    message = answer["choices"][0]["message"]
    assert message["refusal"] is None
    assert "tool_calls" not in message
    logprobs = answer["choices"][0]["logprobs"]
    assert logprobs["refusal"] is None
    first = logprobs["content"][0]
    assert first["bytes"] == list(first["token"].encode())
    assert all("bytes" in alternative for alternative in first["top_logprobs"])
    assert served(gateway) == before + 1


def test_every_chunk_of_a_chat_stream_carries_a_finish_reason_null_until_the_last(
    gateway: Gateway,
) -> None:
    before = served(gateway, stream="true")

    response = chat(gateway, stream=True, logprobs=True, stream_options={"include_usage": True})

    assert response.status_code == 200
    frames = [payload for payload in sse_payloads(response.text) if payload != "[DONE]"]
    chunks = [httpx.Response(200, content=frame).json() for frame in frames]
    reasons = [choice["finish_reason"] for chunk in chunks for choice in chunk["choices"]]
    assert reasons[:-1] == [None] * (len(reasons) - 1)
    assert reasons[-1] == "length"
    assert chunks[-1]["choices"] == []  # the usage chunk
    logprobs = [
        choice["logprobs"] for c in chunks for choice in c["choices"] if "logprobs" in choice
    ]
    assert logprobs
    assert all(each["refusal"] is None and each["content"][0]["bytes"] for each in logprobs)
    assert (
        answer_violations("/v1/chat/completions", 200, "text/event-stream", response.content) == []
    )
    assert served(gateway, stream="true") == before + 1


def test_the_checker_finds_what_openai_s_schemas_require() -> None:
    answer = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hi", "tool_calls": None},
                "logprobs": {"content": [{"token": "Hi", "logprob": -1.0, "top_logprobs": []}]},
                "finish_reason": "stop",
            }
        ],
    }
    chunk = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": "Hi"}}],
    }

    found = violations("chat.completion", answer)

    assert any("'refusal' is a required property" in v for v in found), found
    assert any("None is not of type 'array'" in v for v in found), found
    assert any("'bytes' is a required property" in v for v in found), found
    assert any("logprobs: 'refusal' is a required property" in v for v in found), found
    assert violations("chat.completion.chunk", chunk) == [
        "chat.completion.chunk at choices/0: 'finish_reason' is a required property"
    ]
    assert violations("error", {"error": {"message": "x", "type": "t"}}) != []


def responses_served(gateway: Gateway, stream: str) -> float:
    return gateway.sample(
        "llm_gateway_requests_total", model=MODEL, api="responses", stream=stream, outcome="success"
    )


PERSON = {
    "type": "json_schema",
    "name": "person",
    "schema": {"type": "object", "properties": {"name": {"type": "string"}}},
}
TOOL = {"type": "function", "name": "get_quote", "parameters": None, "strict": None}


@pytest.mark.parametrize("stream", [False, True])
def test_a_response_and_each_event_of_its_stream_match_openai_s_schemas(
    gateway: Gateway, stream: bool
) -> None:
    before = responses_served(gateway, str(stream).lower())
    body = {
        "input": "Hello",
        "max_output_tokens": 5,
        "include": ["message.output_text.logprobs"],
        "top_logprobs": 1,
        "text": {"format": PERSON},
        "tools": [TOOL],
        "tool_choice": "none",
        "stream": stream,
    }

    response = httpx.post(f"{gateway.url}/v1/responses", json=body, timeout=10)

    assert response.status_code == 200
    media_type = response.headers["content-type"]
    assert answer_violations("/v1/responses", 200, media_type, response.content) == []
    if stream:
        events = [json.loads(data) for data in sse_payloads(response.text)]
        assert "usage" not in events[0]["response"]  # not known yet: absent, never null
        answer = events[-1]["response"]
    else:
        answer = response.json()
    assert "user" not in answer  # a string or nothing, never null
    assert answer["text"] == {"format": PERSON}  # no null description nor strict
    assert answer["tools"] == [{**TOOL, "description": None}]  # parameters, strict required
    assert answer["output"][0]["content"][0]["logprobs"][0]["bytes"]
    assert responses_served(gateway, str(stream).lower()) == before + 1


def test_the_checker_finds_what_openai_s_responses_schemas_require() -> None:
    usage = {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}
    part = {"type": "output_text", "text": "Hi", "annotations": []}
    message = {"id": "m", "type": "message", "role": "assistant", "content": [part]}
    failed = {
        "id": "resp_1",
        "object": "response",
        "created_at": 1,
        "error": {"code": "upstream_unreachable", "message": "x"},
        "incomplete_details": None,
        "instructions": None,
        "model": "m",
        "tools": [{"type": "function", "name": "f"}],
        "output": [message],
        "parallel_tool_calls": True,
        "metadata": {},
        "tool_choice": "auto",
        "temperature": None,
        "user": None,
        "usage": usage,
    }
    delta = {"item_id": "m", "output_index": 0, "content_index": 0, "delta": "Hi"}
    stream = (
        'event: response.output_text.delta\ndata: {"type": "response.output_text.delta"}\n\n'
        'event: response.completed\ndata: {"type": "error", "code": null, "message": "x", '
        '"param": null, "sequence_number": 1}\n\n'
    )

    found = violations("response", failed)

    assert any("'top_p' is a required property" in v for v in found), found
    assert any("error/code: 'upstream_unreachable' is not one of" in v for v in found), found
    assert any("tools/0: 'parameters' is a required property" in v for v in found), found
    assert any("output/0: 'status' is a required property" in v for v in found), found
    assert any("content/0: 'logprobs' is a required property" in v for v in found), found
    assert any("user: None is not of type 'string'" in v for v in found), found
    assert any("usage: 'input_tokens_details' is a required" in v for v in found), found
    event = {"type": "response.output_text.delta", **delta, "sequence_number": 0}
    assert violations("response stream event", event) == [
        "response stream event at (top): 'logprobs' is a required property"
    ]
    found = answer_violations("/v1/responses", 200, "text/event-stream", stream.encode())
    assert "an event named 'response.completed' carries 'error'" in found, found
    assert any("'item_id' is a required property" in v for v in found), found


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/v1/chat/completions", {"model": "gpt-4o", "messages": HELLO}, 404),
        ("/v1/chat/completions", {"messages": []}, 422),
        ("/v1/completions", {"prompt": [1, 2]}, 400),
        ("/v1/completions", {"prompt": 12}, 422),
        ("/v1/embeddings", {"input": "x", "model": "mistral"}, 400),
        ("/v1/responses", {"input": "Hi", "tools": [{"type": "web_search"}]}, 400),
        ("/v1/responses", {"input": []}, 422),
        ("/v1/models/gpt-4o", None, 404),
    ],
)
def test_error_bodies_match_openai_s_error_schema(
    gateway: Gateway, path: str, body: object, status: int
) -> None:
    url = f"{gateway.url}{path}"
    response = httpx.get(url) if body is None else httpx.post(url, json=body)

    assert response.status_code == status
    assert violations("error", response.json()) == []
    assert response.json()["error"]["message"]


def test_base64_embeddings_are_a_string_as_openai_answers(gateway: Gateway) -> None:
    body = {"model": "e5", "input": "Hello", "encoding_format": "base64"}

    response = httpx.post(f"{gateway.url}/v1/embeddings", json=body)

    assert response.status_code == 200
    assert isinstance(response.json()["data"][0]["embedding"], str)
    assert violations("embedding list", response.json()) == []


ACCEPTED = {
    "the deprecated function role": [
        {"role": "user", "content": "Weather?"},
        {"role": "function", "name": "get_weather", "content": '{"temp": 21}'},
    ],
    "refusal parts and a refusal on an earlier answer": [
        {"role": "user", "content": "Tell me a secret"},
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "I cannot."}]},
        {"role": "assistant", "content": None, "refusal": "I still cannot."},
        {"role": "user", "content": "Fine"},
    ],
    "text parts with prompt cache marks on system, developer and tool messages": [
        {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
        {
            "role": "developer",
            "content": [
                {
                    "type": "text",
                    "text": "Be kind.",
                    "prompt_cache_breakpoint": {"mode": "explicit"},
                }
            ],
        },
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "",
                    "type": "function",
                    "function": {"name": "get weather!", "arguments": ""},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "", "content": [{"type": "text", "text": "21"}]},
    ],
}


@pytest.mark.parametrize("case", ACCEPTED)
def test_messages_openai_s_schema_allows_are_served(gateway: Gateway, case: str) -> None:
    before = served(gateway)

    response = chat(gateway, messages=ACCEPTED[case])

    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["role"] == "assistant"
    assert served(gateway) == before + 1


def test_parameters_at_openai_s_bounds_are_served(hf_gateway: Gateway) -> None:
    # The huggingface kind's own rewriting of them for TGI (README, OpenAI compatibility);
    # the openai kind sends them as they are, for its server to judge.
    before = served(hf_gateway)

    response = chat(
        hf_gateway,
        stream=None,
        top_p=0,
        seed=-1,
        stop=["", "\n\n"],
        n=20,
        tools=[],
        user="u" * 300,
        tool_choice={
            "type": "allowed_tools",
            "allowed_tools": {
                "mode": "auto",
                "tools": [{"type": "function", "function": {"name": "f"}}],
            },
        },
    )

    assert response.status_code == 200, response.text
    assert len(response.json()["choices"]) == 20
    assert served(hf_gateway) == before + 1


REFUSED = {
    "an audio part": (
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "input_audio", "input_audio": {"data": "AA==", "format": "wav"}}
                    ],
                }
            ]
        },
        "messages",
    ),
    "a file part": (
        {"messages": [{"role": "user", "content": [{"type": "file", "file": {"file_id": "f"}}]}]},
        "messages",
    ),
    "a custom tool": ({"tools": [{"type": "custom", "custom": {"name": "grep"}}]}, "tools"),
    "audio output": ({"modalities": ["text", "audio"]}, "audio"),
    "web search": ({"web_search_options": {}}, "web_search_options"),
    "deprecated function calling": ({"functions": [{"name": "f"}]}, "functions"),
}


@pytest.mark.parametrize("case", REFUSED)
def test_what_no_hugging_face_upstream_serves_is_a_clear_400(gateway: Gateway, case: str) -> None:
    body, param = REFUSED[case]
    attempts = gateway.sample(
        "llm_gateway_upstream_request_duration_seconds_count", model=MODEL, outcome="success"
    )

    response = chat(gateway, **body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "unsupported_feature"
    assert error["param"] == param
    assert error["message"].startswith("The gateway does not support ")
    assert (
        gateway.sample(
            "llm_gateway_upstream_request_duration_seconds_count", model=MODEL, outcome="success"
        )
        == attempts
    )
