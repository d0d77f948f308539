"""Faults that answer before any token: refusals a real server words its own way, a
connection reset before the status line, a 429 with or without Retry-After; through the
openai SDK and over plain httpx and sockets, with what the simulator says it did."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlparse

import httpx
import openai
import pytest

from llm_gateway.simulator.textmodel import count_tokens
from tests.integration.simulator.sse import CHAT_STREAM, MESSAGES, MODEL, Seen

CHAT = "/v1/chat/completions"
CHAT_BODY = {**CHAT_STREAM, "stream": False}
PROMPT_TOKENS = count_tokens("user: Is everything fine?")
PREFILL = [*MESSAGES, {"role": "assistant", "content": "Everything is", "prefix": True}]


def fault(value: str, request_id: str) -> dict[str, str]:
    return {"X-Simulator-Fault": value, "X-Request-Id": request_id}


async def create(
    client: openai.AsyncOpenAI, value: str, request_id: str, *, stream: bool, **fields: Any
) -> Any:
    fields.setdefault("messages", MESSAGES)
    return await client.chat.completions.create(
        model=MODEL, max_tokens=20, stream=stream, extra_headers=fault(value, request_id), **fields
    )


REFUSALS = {
    "context_length": {
        "message": f"This model's maximum context length is {PROMPT_TOKENS - 1} tokens. "
        f"However, your messages resulted in {PROMPT_TOKENS} tokens. "
        "Please reduce the length of the messages.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    },
    "content_filter": {
        "message": "Your request was rejected as a result of our safety system: the prompt "
        "was flagged as possibly violating the usage policy.",
        "type": "invalid_request_error",
        "param": None,
        "code": "content_policy_violation",
    },
}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("refusal", REFUSALS)
async def test_a_refused_prompt_is_openais_400_with_its_code(
    openai_client: openai.AsyncOpenAI, seen: Seen, request_id: str, refusal: str, stream: bool
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await create(openai_client, refusal, request_id, stream=stream)

    assert caught.value.status_code == 400
    assert caught.value.code == REFUSALS[refusal]["code"]
    assert caught.value.body == REFUSALS[refusal]
    assert await seen(request_id) == [
        {"model": MODEL, "stream": stream, "prefill": 0, "fault": refusal, "max_tokens": 20}
    ]


async def test_context_length_on_legacy_completions_names_the_prompt(
    http: httpx.AsyncClient, request_id: str
) -> None:
    body = {"model": MODEL, "prompt": "Is everything fine?", "max_tokens": 5}

    response = await http.post(
        "/v1/completions", json=body, headers=fault("context_length", request_id)
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("context_length_exceeded", "prompt")
    assert error["message"] == (
        "This model's maximum context length is 3 tokens. However, your prompt resulted in "
        "4 tokens. Please reduce the length of the prompt."
    )


async def test_context_length_on_tgi_is_its_422_validation_error(
    http: httpx.AsyncClient, seen: Seen, request_id: str
) -> None:
    body = {"inputs": "Is everything fine?", "parameters": {"max_new_tokens": 5}}

    response = await http.post("/generate", json=body, headers=fault("context_length", request_id))

    assert response.status_code == 422
    assert response.json() == {
        "error": "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 8. "
        "Given: 4 `inputs` tokens and 5 `max_new_tokens`",
        "error_type": "validation",
    }
    assert [a["fault"] for a in await seen(request_id)] == ["context_length"]


@pytest.mark.parametrize(
    "prefill",
    [
        {"messages": PREFILL},
        {
            "messages": [*MESSAGES, {"role": "assistant", "content": "Everything is"}],
            "extra_body": {"continue_final_message": True, "add_generation_prompt": False},
        },
    ],
    ids=["prefix", "continue_final_message"],
)
async def test_reject_prefill_refuses_a_prefilled_request_as_vllm_does(
    openai_client: openai.AsyncOpenAI, seen: Seen, request_id: str, prefill: dict[str, Any]
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await create(openai_client, "reject_prefill", request_id, stream=True, **prefill)

    assert caught.value.status_code == 400
    assert caught.value.type == "BadRequestError"
    assert caught.value.body["message"].startswith(  # type: ignore[index]
        "continue_final_message is set but the final message does not appear in the chat"
    )
    assert await seen(request_id) == [
        {"model": MODEL, "stream": True, "prefill": 13, "fault": "reject_prefill", "max_tokens": 20}
    ]


async def test_reject_prefill_is_no_fault_for_a_request_without_a_prefill(
    openai_client: openai.AsyncOpenAI, seen: Seen, request_id: str
) -> None:
    completion = await create(openai_client, "reject_prefill", request_id, stream=False)

    assert completion.choices[0].finish_reason == "length"
    assert [a["fault"] for a in await seen(request_id)] == ["none"]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_reset_closes_the_connection_before_any_status_line(
    openai_client: openai.AsyncOpenAI, seen: Seen, request_id: str, stream: bool
) -> None:
    with pytest.raises(openai.APIConnectionError) as caught:
        await create(openai_client, "reset", request_id, stream=stream)

    assert type(caught.value) is openai.APIConnectionError
    cause = caught.value.__cause__
    # httpx2's under openai 3, httpx's under the openai 2 of the lowest-versions leg.
    assert type(cause).__name__ == "RemoteProtocolError"
    assert str(cause) == "Server disconnected without sending a response."
    assert [a["fault"] for a in await seen(request_id)] == ["reset"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (CHAT, CHAT_BODY),
        ("/generate", {"inputs": "Hi"}),
        ("/embed", {"inputs": "Hi"}),
        ("/v1/embeddings", {"model": MODEL, "input": "Hi"}),
    ],
)
def test_reset_sends_not_one_byte_on_any_route(
    simulator_url: str, path: str, body: dict[str, Any]
) -> None:
    url = urlparse(simulator_url)
    payload = httpx.Request("POST", simulator_url + path, json=body).content
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: application/json\r\n"
        f"X-Simulator-Fault: reset\r\nContent-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload

    with socket.create_connection((url.hostname, url.port), timeout=5) as connection:
        connection.sendall(request)
        received = connection.recv(65536)

    assert received == b""


@pytest.mark.parametrize(
    ("value", "retry_after"),
    [
        ("rate_limit", "1"),
        ("rate_limit; retry_after=7", "7"),
        ("rate_limit; retry_after=none", None),
    ],
)
async def test_rate_limit_sends_the_retry_after_asked_or_none(
    openai_client: openai.AsyncOpenAI, request_id: str, value: str, retry_after: str | None
) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        await create(openai_client, value, request_id, stream=True)

    assert caught.value.status_code == 429
    assert caught.value.response.headers.get("retry-after") == retry_after


async def test_unavailable_takes_a_retry_after_too_on_tgi(
    http: httpx.AsyncClient, request_id: str
) -> None:
    headers = fault("unavailable; retry_after=none", request_id)

    response = await http.post("/generate", json={"inputs": "Hi"}, headers=headers)

    assert response.status_code == 503
    assert "retry-after" not in response.headers


async def test_hang_for_zero_seconds_gives_up_with_a_504_at_once(
    http: httpx.AsyncClient, seen: Seen, request_id: str
) -> None:
    response = await http.post(CHAT, json=CHAT_BODY, headers=fault("hang; seconds=0", request_id))

    assert response.status_code == 504
    assert response.json()["error"]["message"] == "The model did not answer in time."
    assert [a["fault"] for a in await seen(request_id)] == ["hang"]
