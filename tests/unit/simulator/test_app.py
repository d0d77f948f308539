"""The simulator's routes in process, through httpx's ASGI transport: no sockets."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from llm_gateway.simulator.app import create_app
from llm_gateway.simulator.settings import SimulatorSettings
from llm_gateway.simulator.textmodel import count_tokens

CHAT = {"model": "any/model", "messages": [{"role": "user", "content": "Hello there"}]}
GENERATE = {"inputs": "Hello there", "parameters": {"max_new_tokens": 5}}


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        SimulatorSettings(time_to_first_token_seconds=0, time_per_token_seconds=0, seed=0)
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://simulator") as client:
        yield client


def sse_payloads(text: str) -> list[str]:
    return [line.removeprefix("data: ") for line in text.splitlines() if line.startswith("data:")]


async def test_chat_completion_echoes_any_model_and_counts_tokens(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/v1/chat/completions", json={**CHAT, "max_tokens": 7})

    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "any/model"
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert choice["finish_reason"] == "length"
    assert body["usage"] == {
        "prompt_tokens": count_tokens("user: Hello there"),
        "completion_tokens": 7,
        "total_tokens": count_tokens("user: Hello there") + 7,
    }
    assert count_tokens(choice["message"]["content"]) == 7


async def test_chat_accepts_content_parts_as_the_same_prompt(client: httpx.AsyncClient) -> None:
    parts = [{"type": "text", "text": "Hello there"}, {"type": "image_url", "image_url": {}}]
    as_parts = {**CHAT, "messages": [{"role": "user", "content": parts}], "seed": 3}

    from_parts = (await client.post("/v1/chat/completions", json=as_parts)).json()
    from_string = (await client.post("/v1/chat/completions", json={**CHAT, "seed": 3})).json()

    assert from_parts["choices"][0]["message"] == from_string["choices"][0]["message"]
    assert from_parts["usage"] == from_string["usage"]


async def test_chat_stream_frames_match_the_usage(client: httpx.AsyncClient) -> None:
    request = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}

    response = await client.post("/v1/chat/completions", json=request)

    assert response.headers["content-type"] == "text/event-stream"
    payloads = sse_payloads(response.text)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(payload) for payload in payloads[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    token_chunks = [c for c in chunks[1:] if c["choices"] and "content" in c["choices"][0]["delta"]]
    assert chunks[-2]["choices"][0]["finish_reason"] in {"stop", "length"}
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == len(token_chunks)
    assert len({chunk["id"] for chunk in chunks}) == 1


async def test_chat_stream_without_usage_option_sends_no_usage(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/chat/completions", json={**CHAT, "stream": True})

    assert "usage" not in response.text


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "Invalid JSON"),
        (b'{"model": "m"}', "messages: Field required"),
        (b'{"messages": []}', "messages: List should have at least 1 item"),
        (b'{"messages": "hi"}', "messages: Input should be a valid array"),
        (b'{"messages": [{"role": "user", "content": 3}]}', "messages.0.content"),
        (b'{"messages": [{"role": "user", "content": "x"}], "max_tokens": "5"}', "max_tokens"),
        (b'{"messages": [{"role": "user", "content": "x"}], "max_tokens": 99999}', "at most 4096"),
        (b'{"messages": [{"role": "user", "content": "x"}], "stop": 7}', "stop"),
    ],
)
async def test_invalid_chat_requests_get_400_with_an_openai_error(
    client: httpx.AsyncClient, body: bytes, message: str
) -> None:
    response = await client.post("/v1/chat/completions", content=body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert message in error["message"]
    assert error["type"] == "invalid_request_error"


async def test_unknown_fault_header_gets_400(client: httpx.AsyncClient) -> None:
    headers = {"X-Simulator-Fault": "meltdown"}

    chat = await client.post("/v1/chat/completions", json=CHAT, headers=headers)
    tgi = await client.post("/generate", json=GENERATE, headers=headers)

    assert chat.status_code == 400
    assert chat.json()["error"]["code"] == "unknown_fault"
    assert tgi.status_code == 400
    assert tgi.json()["error_type"] == "validation"


@pytest.mark.parametrize(
    ("fault", "status", "retry_after"),
    [("rate_limit", 429, "1"), ("server_error", 500, None), ("unavailable", 503, "1")],
)
async def test_status_faults_answer_in_each_dialect(
    client: httpx.AsyncClient, fault: str, status: int, retry_after: str | None
) -> None:
    headers = {"X-Simulator-Fault": fault}

    chat = await client.post("/v1/chat/completions", json=CHAT, headers=headers)
    tgi = await client.post("/generate", json=GENERATE, headers=headers)

    assert chat.status_code == tgi.status_code == status
    assert chat.headers.get("retry-after") == tgi.headers.get("retry-after") == retry_after
    assert set(chat.json()["error"]) == {"message", "type", "param", "code"}
    assert set(tgi.json()) == {"error", "error_type"}


async def test_malformed_fault_sends_200_that_is_not_json(client: httpx.AsyncClient) -> None:
    headers = {"X-Simulator-Fault": "malformed"}

    response = await client.post("/v1/chat/completions", json=CHAT, headers=headers)

    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()


async def test_none_fault_header_forces_a_normal_answer(client: httpx.AsyncClient) -> None:
    response = await client.post("/generate", json=GENERATE, headers={"X-Simulator-Fault": "none"})

    assert response.status_code == 200


async def test_generate_returns_text_and_details_on_request(client: httpx.AsyncClient) -> None:
    request = {"inputs": "Hi", "parameters": {"max_new_tokens": 4, "seed": 9, "details": True}}

    body = (await client.post("/generate", json=request)).json()

    assert count_tokens(body["generated_text"]) == 4
    details = body["details"]
    assert details["finish_reason"] == "length"
    assert details["generated_tokens"] == 4
    assert details["seed"] == 9
    assert "".join(token["text"] for token in details["tokens"]) == body["generated_text"]


async def test_compat_route_wraps_in_a_list_or_streams(client: httpx.AsyncClient) -> None:
    plain = (await client.post("/generate", json=GENERATE)).json()

    listed = await client.post("/", json=GENERATE)
    streamed = await client.post("/", json={**GENERATE, "stream": True})

    assert listed.json() == [plain]
    frames = [json.loads(payload) for payload in sse_payloads(streamed.text)]
    assert "".join(frame["token"]["text"] for frame in frames) == plain["generated_text"]
    assert frames[-1]["generated_text"] == plain["generated_text"]
    assert all(frame["generated_text"] is None for frame in frames[:-1])


async def test_generate_stream_details_come_with_the_last_frame(client: httpx.AsyncClient) -> None:
    request = {"inputs": "Hi", "parameters": {"max_new_tokens": 3, "details": True}}

    response = await client.post("/generate_stream", json=request)

    frames = [json.loads(payload) for payload in sse_payloads(response.text)]
    assert [frame["index"] for frame in frames] == [0, 1, 2]
    assert frames[-1]["details"] == {
        "finish_reason": "length",
        "generated_tokens": 3,
        "seed": None,
        "input_length": 1,
    }


@pytest.mark.parametrize(
    "body",
    [b"[1", b"{}", b'{"inputs": ""}', b'{"inputs": "x", "parameters": {"top_p": 1.0}}'],
)
async def test_invalid_generate_requests_get_422_validation(
    client: httpx.AsyncClient, body: bytes
) -> None:
    response = await client.post("/generate", content=body)

    assert response.status_code == 422
    assert response.json()["error_type"] == "validation"


async def test_models_lists_the_configured_models(client: httpx.AsyncClient) -> None:
    body = (await client.get("/v1/models")).json()

    assert body["object"] == "list"
    assert [model["id"] for model in body["data"]] == SimulatorSettings().models


async def test_info_and_health_answer_like_tgi(client: httpx.AsyncClient) -> None:
    info = await client.get("/info")
    health = await client.get("/health")

    assert info.json()["model_id"] == "mistralai/Mistral-7B-Instruct-v0.3"
    assert health.status_code == 200


async def test_unknown_routes_get_a_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/v2/nothing")

    assert response.status_code == 404
    assert response.json()["error"]["message"] == "Not Found"


async def test_rates_only_touch_generation_routes() -> None:
    app = create_app(SimulatorSettings(server_error_rate=1.0, time_to_first_token_seconds=0))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://simulator") as client:
        assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 500
        assert (await client.get("/health")).status_code == 200
