"""Retries, fallbacks, load shedding, API keys, rate limits and client disconnects."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.helpers import MODEL, NEMO, Gateway, connections_to, start_gateway, wait_for

CHAT = {"messages": [{"role": "user", "content": "Hello"}], "max_tokens": 3}
KEYS = {"team-a": "sk-test-team-a-0123456789", "team-b": "sk-test-team-b-9876543210"}


@pytest.fixture(scope="module")
def retrying(simulator_url: str) -> Iterator[Gateway]:
    yield from start_gateway(
        simulator_url,
        retry_attempts=3,
        retry_backoff_seconds=0.01,
        retry_max_backoff_seconds=2.0,
        fallback_models=["nemo"],
    )


@pytest.fixture(scope="module")
def limited(slow_simulator_url: str) -> Iterator[Gateway]:
    yield from start_gateway(
        slow_simulator_url,
        upstream_timeout_seconds=5.0,
        max_concurrency=2,
        max_queue=1,
        queue_timeout_seconds=0.3,
    )


@pytest.fixture(scope="module")
def keyed(simulator_url: str) -> Iterator[Gateway]:
    yield from start_gateway(simulator_url, api_keys=KEYS, rate_limit_requests_per_minute=3)


def faulty(fault: str, times: int) -> dict[str, str]:
    return {"X-Simulator-Fault": fault, "X-Simulator-Fault-Times": str(times)}


def test_retry_recovers_from_upstream_503s(retrying: Gateway) -> None:
    retries = retrying.sample(
        "llm_gateway_upstream_retries_total", model=MODEL, reason="server_error"
    )

    response = httpx.post(
        f"{retrying.url}/v1/chat/completions", json=CHAT, headers=faulty("unavailable", 2)
    )

    assert response.status_code == 200
    assert response.json()["model"] == MODEL
    assert (
        retrying.sample("llm_gateway_upstream_retries_total", model=MODEL, reason="server_error")
        == retries + 2
    )


def test_retry_waits_out_a_short_retry_after(retrying: Gateway) -> None:
    started = time.monotonic()

    response = httpx.post(
        f"{retrying.url}/generate", json={"prompt": "x"}, headers=faulty("rate_limit", 1)
    )

    assert response.status_code == 200
    assert time.monotonic() - started >= 1.0  # the simulator's Retry-After: 1


def test_an_upstream_500_is_retried(retrying: Gateway) -> None:
    retries = retrying.sample(
        "llm_gateway_upstream_retries_total", model=MODEL, reason="server_error"
    )

    response = httpx.post(
        f"{retrying.url}/generate", json={"prompt": "x"}, headers=faulty("server_error", 1)
    )

    assert response.status_code == 200
    assert (
        retrying.sample("llm_gateway_upstream_retries_total", model=MODEL, reason="server_error")
        == retries + 1
    )


def test_a_failing_model_falls_back_and_the_response_names_the_one_used(
    retrying: Gateway,
) -> None:
    fallbacks = retrying.sample("llm_gateway_fallbacks_total", model=NEMO, reason="error")
    labels = {"api": "generate", "stream": "false", "outcome": "success"}
    answered_by_nemo = retrying.sample("llm_gateway_requests_total", model=NEMO, **labels)

    response = httpx.post(
        f"{retrying.url}/generate", json={"prompt": "x"}, headers=faulty("unavailable", 3)
    )

    assert response.status_code == 200
    assert response.json()["model"] == NEMO
    assert (
        retrying.sample("llm_gateway_fallbacks_total", model=NEMO, reason="error") == fallbacks + 1
    )
    assert retrying.sample("llm_gateway_requests_total", model=NEMO, **labels) == (
        answered_by_nemo + 1
    )


def test_a_stream_is_retried_before_its_first_byte(retrying: Gateway) -> None:
    response = httpx.post(
        f"{retrying.url}/v1/chat/completions",
        json={**CHAT, "stream": True},
        headers=faulty("unavailable", 1),
    )

    assert response.status_code == 200
    assert response.text.rstrip().endswith("data: [DONE]")
    assert '"error"' not in response.text


async def test_beyond_slots_and_queue_requests_are_shed_with_retry_after(
    limited: Gateway,
) -> None:
    long = {"messages": [{"role": "user", "content": "x"}], "max_tokens": 60, "stream": True}
    queue_full = limited.sample("llm_gateway_shed_requests_total", reason="queue_full")
    queue_timeout = limited.sample("llm_gateway_shed_requests_total", reason="queue_timeout")

    async with httpx.AsyncClient(base_url=limited.url, timeout=10) as client:

        async def hold() -> None:
            async with client.stream("POST", "/v1/chat/completions", json=long) as response:
                assert response.status_code == 200
                async for _ in response.aiter_bytes():
                    pass

        holders = [asyncio.create_task(hold()) for _ in range(2)]
        await asyncio.to_thread(
            wait_for,
            lambda: limited.sample("llm_gateway_upstream_requests_in_flight", model=MODEL) == 2,
        )
        queued = asyncio.create_task(client.post("/generate", json={"prompt": "x"}))
        await asyncio.to_thread(
            wait_for, lambda: limited.sample("llm_gateway_queued_requests") == 1
        )
        rejected = await client.post("/generate", json={"prompt": "x"})
        timed_out = await queued
        for holder in holders:
            holder.cancel()
        await asyncio.gather(*holders, return_exceptions=True)

    for response in (rejected, timed_out):
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert response.json()["error"]["code"] == "gateway_overloaded"
    assert limited.sample("llm_gateway_shed_requests_total", reason="queue_full") == queue_full + 1
    assert limited.sample("llm_gateway_shed_requests_total", reason="queue_timeout") == (
        queue_timeout + 1
    )


async def test_client_disconnect_cancels_a_non_streamed_request(
    slow_gateway: Gateway, slow_simulator_url: str
) -> None:
    labels = {"model": MODEL, "api": "generate", "stream": "false", "outcome": "cancelled"}
    cancelled = slow_gateway.sample("llm_gateway_requests_total", **labels)

    async with httpx.AsyncClient(base_url=slow_gateway.url) as client:
        request = asyncio.create_task(
            client.post("/generate", json={"prompt": "x", "max_new_tokens": 200}, timeout=30)
        )
        await asyncio.to_thread(
            wait_for,
            lambda: (
                slow_gateway.sample("llm_gateway_upstream_requests_in_flight", model=MODEL) == 1
            ),
        )
        request.cancel()  # closes the connection: the client is gone
        await asyncio.gather(request, return_exceptions=True)

    await asyncio.to_thread(
        wait_for,
        lambda: slow_gateway.sample("llm_gateway_requests_total", **labels) == cancelled + 1,
    )
    await asyncio.to_thread(wait_for, lambda: not connections_to(slow_simulator_url))
    assert slow_gateway.sample("llm_gateway_upstream_requests_in_flight", model=MODEL) == 0


@pytest.mark.parametrize(
    ("headers", "code", "reason"),
    [
        ({}, "missing_api_key", "missing"),
        ({"Authorization": "Bearer sk-wrong"}, "invalid_api_key", "invalid"),
        ({"X-API-Key": "sk-wrong"}, "invalid_api_key", "invalid"),
    ],
)
def test_requests_without_a_valid_key_get_401(
    keyed: Gateway, headers: dict[str, str], code: str, reason: str
) -> None:
    failures = keyed.sample("llm_gateway_auth_failures_total", reason=reason)

    response = httpx.post(f"{keyed.url}/generate", json={"prompt": "x"}, headers=headers)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == code
    assert keyed.sample("llm_gateway_auth_failures_total", reason=reason) == failures + 1


def test_probes_and_metrics_stay_open_without_a_key(keyed: Gateway) -> None:
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        assert httpx.get(f"{keyed.url}{path}").status_code == 200


async def test_openai_sdk_with_a_key_gets_answers_until_its_rate_limit(keyed: Gateway) -> None:
    async with openai.AsyncOpenAI(
        base_url=f"{keyed.url}/v1", api_key=KEYS["team-b"], max_retries=0
    ) as client:
        for _ in range(3):
            completion = await client.chat.completions.create(model="mistral", **CHAT)
            assert completion.choices[0].message.content
        with pytest.raises(openai.RateLimitError) as refused:
            await client.chat.completions.create(model="mistral", **CHAT)

    assert refused.value.response.headers["retry-after"] == "20"
    assert refused.value.body["code"] == "requests_per_minute_exceeded"  # type: ignore[index]
    assert (
        keyed.sample("llm_gateway_rate_limited_requests_total", client="team-b", limit="requests")
        == 1
    )
    headers = {"Authorization": f"Bearer {KEYS['team-a']}"}
    assert httpx.get(f"{keyed.url}/v1/models", headers=headers).status_code == 200
