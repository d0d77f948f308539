"""Upstream connections are reused, and abandoned streams give theirs back promptly."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import httpx2
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from llm_gateway.upstream.body import ResponseLimits
from llm_gateway.upstream.transport import IDLE_SECONDS, AiohttpTransport
from tests.helpers import (
    KINDS,
    MODEL,
    Gateway,
    connections_to,
    either_kind,
    start_gateway,
    wait_for,
)
from tests.servers import run_server


@pytest.fixture(params=KINDS)
def gateway(request: pytest.FixtureRequest, hf_gateway: Gateway, gateway: Gateway) -> Gateway:
    """Each kind holds its connections its own way: huggingface_hub's client on a lent pool,
    or the openai kind's own requests."""
    return either_kind(request, hf_gateway, gateway)


@pytest.fixture(scope="module")
def slow_hf_gateway(slow_simulator_url: str) -> Iterator[Gateway]:
    yield from start_gateway(
        slow_simulator_url, upstream_api="huggingface", upstream_timeout_seconds=5.0
    )


@pytest.fixture(params=KINDS)
def slow_gateway(
    request: pytest.FixtureRequest, slow_hf_gateway: Gateway, slow_gateway: Gateway
) -> Gateway:
    return either_kind(request, slow_hf_gateway, slow_gateway)


def test_sequential_requests_reuse_one_upstream_connection(
    gateway: Gateway, simulator_url: str
) -> None:
    seen: set[tuple[str, int]] = set()
    with httpx.Client(base_url=gateway.url) as client:
        for i in range(40):
            stream = i % 2 == 1
            body = {"prompt": f"request {i}", "max_new_tokens": 2, "stream": stream}
            assert client.post("/generate", json=body).status_code == 200
            seen |= connections_to(simulator_url)

    # One connection, reused: a stream's goes back to the pool a moment after its last
    # byte reached the client, so on a loaded machine the next request may open another
    # meanwhile (seen: 3). Without reuse, 40 requests would have used up to 40.
    assert 1 <= len(seen) <= 3


async def test_abandoned_streams_release_upstream_connections(
    slow_gateway: Gateway, slow_simulator_url: str
) -> None:
    streams = 24
    labels = {"model": MODEL, "api": "chat_completions", "stream": "true"}
    cancelled = slow_gateway.sample("llm_gateway_requests_total", **labels, outcome="cancelled")
    body = {"messages": [{"role": "user", "content": "long"}], "max_tokens": 200, "stream": True}

    async def abandon(client: httpx.AsyncClient) -> None:
        async with client.stream("POST", "/v1/chat/completions", json=body) as response:
            assert response.status_code == 200
            async for line in response.aiter_lines():
                if '"content":"' in line and '"content":""' not in line:
                    return  # one token in: walk away, closing the connection

    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=slow_gateway.url, limits=limits, timeout=10) as client:
        await asyncio.gather(*(abandon(client) for _ in range(streams)))

    # The streams would run for 10 s more; their upstream connections must go within moments.
    await asyncio.to_thread(wait_for, lambda: not connections_to(slow_simulator_url), 3.0)
    await asyncio.to_thread(
        wait_for,
        lambda: (
            slow_gateway.sample("llm_gateway_requests_total", **labels, outcome="cancelled")
            == cancelled + streams
        ),
    )
    assert slow_gateway.sample("llm_gateway_upstream_requests_in_flight", model=MODEL) == 0


async def test_an_idle_connection_is_closed_before_the_upstream_closes_it(
    simulator_url: str,
) -> None:
    # The simulator is uvicorn, whose keep-alive is the shortest of the usual upstreams'.
    upstream_keep_alive = uvicorn.Config(app=None).timeout_keep_alive
    assert IDLE_SECONDS < upstream_keep_alive

    idle = 0.05
    transport = AiohttpTransport(ResponseLimits(2**20, 2**16), idle_seconds=idle)
    body = {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "max_tokens": 1}
    others = connections_to(simulator_url)  # the shared gateways' pools
    async with httpx2.AsyncClient(transport=transport, base_url=simulator_url) as client:
        assert (await client.post("/v1/chat/completions", json=body)).status_code == 200
        first = connections_to(simulator_url) - others
        await asyncio.sleep(2 * idle)  # a slower machine only makes the pause longer
        assert (await client.post("/v1/chat/completions", json=body)).status_code == 200
        second = connections_to(simulator_url) - others

    assert len(first) == 1
    assert len(second) == 1
    assert first != second


async def test_a_connection_that_carried_a_large_answer_is_reused_after_a_pause() -> None:
    # Below 3.11.11 (and in 3.14.0 and 3.14.1), aiohttp re-armed the read timeout on a
    # connection already back in the pool when a large body was read from its buffer: the
    # next request on it failed at once with a read timeout, answered 504.
    async def large(request: Request) -> Response:
        await request.body()
        return Response(b"x" * 2**20)

    read_timeout = 0.2
    transport = AiohttpTransport(ResponseLimits(2**21, 2**16))
    timeout = httpx2.Timeout(read_timeout, connect=read_timeout)
    with run_server(Starlette(routes=[Route("/", large, methods=["POST"])])) as url:
        async with httpx2.AsyncClient(transport=transport, base_url=url, timeout=timeout) as client:
            for _ in range(2):
                response = await client.post("/", content=b"{}")
                assert (response.status_code, len(response.content)) == (200, 2**20)
                await asyncio.sleep(2 * read_timeout)  # only ever longer on a slower machine
            assert len(connections_to(url)) == 1
