"""One loadgen request: the bodies it sends and how each kind of answer is classified.

httpx's ``MockTransport`` plays the gateway, so no socket is opened.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from llm_gateway.core.types import Endpoint
from llm_gateway.loadgen.client import FAULT_HEADER, Result, request_body, send
from llm_gateway.loadgen.plan import RequestSpec

URL = "http://gateway.test"
USAGE = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}


def spec(
    endpoint: Endpoint = Endpoint.GENERATE, *, stream: bool = False, **extra: Any
) -> RequestSpec:
    return RequestSpec(
        endpoint=endpoint, model="m", stream=stream, prompt="Hi", max_tokens=8, **extra
    )


def frames(*payloads: object, done: bool = True) -> bytes:
    body = b"".join(b"data: " + json.dumps(p).encode() + b"\n\n" for p in payloads)
    return body + (b"data: [DONE]\n\n" if done else b"")


async def send_to(
    handler: Callable[[httpx.Request], Any], request: RequestSpec, timeout: float = 5.0
) -> Result:
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        return await send(client, URL, request, timeout)


def test_generate_body_has_the_generate_fields() -> None:
    assert request_body(spec(stream=True)) == (
        "/generate",
        {"prompt": "Hi", "model": "m", "max_new_tokens": 8, "stream": True},
    )


def test_streamed_chat_body_asks_for_usage() -> None:
    path, body = request_body(spec(Endpoint.CHAT_COMPLETIONS, stream=True))

    assert path == "/v1/chat/completions"
    assert body == {
        "model": "m",
        "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 8,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_unstreamed_chat_body_has_no_stream_options() -> None:
    assert "stream_options" not in request_body(spec(Endpoint.CHAT_COMPLETIONS))[1]


async def test_a_fault_travels_as_the_simulator_header() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"usage": USAGE})

    await send_to(handler, spec(fault="hang"))
    await send_to(handler, spec())

    assert seen[0].headers[FAULT_HEADER] == "hang"
    assert FAULT_HEADER not in seen[1].headers


async def test_a_success_counts_its_usage_tokens() -> None:
    result = await send_to(lambda _: httpx.Response(200, json={"usage": USAGE}), spec())

    assert result.ok
    assert (result.status, result.prompt_tokens, result.completion_tokens) == (200, 5, 3)
    assert result.time_to_first_byte is None
    assert result.latency > 0


async def test_an_error_status_is_classified_by_the_gateway_code() -> None:
    body = {"error": {"message": "slow down", "type": "x", "code": "upstream_rate_limited"}}

    result = await send_to(lambda _: httpx.Response(429, json=body), spec(stream=True))

    assert (result.status, result.error, result.mid_stream) == (429, "upstream_rate_limited", False)


async def test_an_error_status_without_the_envelope_is_classified_by_status() -> None:
    result = await send_to(lambda _: httpx.Response(503, text="<html>busy</html>"), spec())

    assert (result.status, result.error) == (503, "http_503")


async def test_a_stream_reads_time_to_first_byte_and_the_last_frames_usage() -> None:
    body = frames({"text": "a"}, {"text": "b", "usage": USAGE})

    result = await send_to(lambda _: httpx.Response(200, content=body), spec(stream=True))

    assert result.ok
    assert result.time_to_first_byte is not None
    assert 0 < result.time_to_first_byte <= result.latency
    assert result.completion_tokens == 3


async def test_an_error_frame_after_the_first_token_is_a_mid_stream_error() -> None:
    body = frames({"text": "a"}, {"error": {"code": "upstream_unreachable"}})

    result = await send_to(lambda _: httpx.Response(200, content=body), spec(stream=True))

    assert (result.status, result.error, result.mid_stream) == (200, "upstream_unreachable", True)


async def test_a_stream_without_done_is_incomplete() -> None:
    body = frames({"text": "a"}, done=False)

    result = await send_to(lambda _: httpx.Response(200, content=body), spec(stream=True))

    assert result.error == "client_incomplete_stream"


@pytest.mark.parametrize("stream", [False, True])
async def test_a_body_that_is_not_json_is_a_bad_response(stream: bool) -> None:
    body = b"data: {oops\n\n" if stream else b"{oops"

    result = await send_to(lambda _: httpx.Response(200, content=body), spec(stream=stream))

    assert (result.status, result.error) == (200, "client_bad_response")


async def test_a_connection_that_breaks_mid_stream_is_a_connection_error() -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield frames({"text": "a"}, done=False)
        raise httpx.ReadError("connection reset")

    result = await send_to(lambda _: httpx.Response(200, content=broken()), spec(stream=True))

    assert (result.status, result.error) == (200, "client_connection")
    assert result.time_to_first_byte is not None


async def test_a_refused_connection_has_no_status() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    result = await send_to(refuse, spec())

    assert (result.status, result.error) == (None, "client_connection")


async def test_an_httpx_timeout_is_a_client_timeout() -> None:
    def time_out(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    assert (await send_to(time_out, spec())).error == "client_timeout"


async def test_the_whole_exchange_is_bounded_by_the_timeout() -> None:
    async def never(_: httpx.Request) -> httpx.Response:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    result = await send_to(never, spec(), timeout=0.05)

    assert (result.status, result.error) == (None, "client_timeout")
    assert result.latency >= 0.05
