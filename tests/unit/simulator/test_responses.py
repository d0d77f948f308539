from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

import pytest
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from llm_gateway.simulator.app import HideDroppedConnections
from llm_gateway.simulator.pacing import Pacer
from llm_gateway.simulator.responses import (
    ConnectionDropped,
    DelayedResponse,
    DropResponse,
    EventStreamResponse,
    HangResponse,
)

SCOPE: dict[str, Any] = {"type": "http"}
INSTANT = Pacer(0.0, 0.0, 0.0, random.Random(0))


class FakeClient:
    """The ASGI receive and send of one client, which can leave at any moment."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.gone = asyncio.Event()
        self.first_body = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)
        if message["type"] == "http.response.body":
            self.first_body.set()

    def body(self) -> bytes:
        return b"".join(m["body"] for m in self.sent if m["type"] == "http.response.body")


async def test_hang_ends_as_soon_as_the_client_leaves() -> None:
    client = FakeClient()
    hang = asyncio.create_task(
        HangResponse(3600, then=Response())(SCOPE, client.receive, client.send)
    )

    client.gone.set()
    await asyncio.wait_for(hang, timeout=5)

    assert client.sent == []


async def test_hang_answers_the_fallback_once_its_time_is_up() -> None:
    client = FakeClient()

    await HangResponse(0, then=Response(b"late", 504))(SCOPE, client.receive, client.send)

    assert client.sent[0]["status"] == 504
    assert client.body() == b"late"


async def test_instant_stream_sends_every_frame_in_one_write() -> None:
    client = FakeClient()
    stream = EventStreamResponse(head=b"H", tokens=[b"1", b"2"], tail=b"T", pacer=INSTANT)

    await stream(SCOPE, client.receive, client.send)

    assert client.sent[0]["headers"][0] == (b"content-type", b"text/event-stream")
    assert client.sent[1:] == [{"type": "http.response.body", "body": b"H12T", "more_body": False}]


@pytest.mark.parametrize("pacer", [INSTANT, Pacer(0.0, 1e-6, 0.0, random.Random(0))])
async def test_dropped_stream_sends_a_few_tokens_then_breaks(pacer: Pacer) -> None:
    client = FakeClient()
    tokens = [str(index).encode() for index in range(10)]
    stream = EventStreamResponse(head=b"H", tokens=tokens, tail=b"T", pacer=pacer, break_after=4)

    with pytest.raises(ConnectionDropped):
        await stream(SCOPE, client.receive, client.send)

    assert client.body() == b"H" + b"".join(tokens[:4])
    assert client.sent[-1]["more_body"] is True


async def test_stalled_stream_is_silent_until_the_client_leaves_then_breaks() -> None:
    client = FakeClient()
    stream = EventStreamResponse(
        head=b"H", tokens=[b"1", b"2"], tail=b"T", pacer=INSTANT, break_after=1, silence=3600
    )
    task = asyncio.create_task(stream(SCOPE, client.receive, client.send))

    await client.first_body.wait()
    client.gone.set()
    with pytest.raises(ConnectionDropped):
        await asyncio.wait_for(task, timeout=5)

    assert client.body() == b"H1"


async def test_stream_broken_before_any_token_still_sends_its_head() -> None:
    client = FakeClient()
    stream = EventStreamResponse(
        head=b"H", tokens=[b"1"], tail=b"T", pacer=INSTANT, break_after=0, silence=1e-6
    )

    with pytest.raises(ConnectionDropped):
        await stream(SCOPE, client.receive, client.send)

    assert client.body() == b"H"


async def test_slow_first_token_holds_the_first_frame_until_the_client_leaves() -> None:
    client = FakeClient()
    stream = EventStreamResponse(
        head=b"H", tokens=[b"1"], tail=b"T", pacer=INSTANT, first_token_delay=3600
    )
    task = asyncio.create_task(stream(SCOPE, client.receive, client.send))

    while not client.sent:  # the headers go at once
        await asyncio.sleep(0)
    client.gone.set()
    await asyncio.wait_for(task, timeout=5)

    assert client.sent[0]["status"] == 200
    assert client.body() == b""


async def test_stalled_whole_answer_sends_headers_then_breaks_once_the_client_leaves() -> None:
    client = FakeClient()
    task = asyncio.create_task(DropResponse(silence=3600)(SCOPE, client.receive, client.send))

    while not client.sent:
        await asyncio.sleep(0)
    client.gone.set()
    with pytest.raises(ConnectionDropped):
        await asyncio.wait_for(task, timeout=5)

    assert [m["type"] for m in client.sent] == ["http.response.start"]


async def test_paced_stream_stops_when_the_client_leaves() -> None:
    client = FakeClient()
    slow = Pacer(0.0, 3600.0, 0.0, random.Random(0))
    stream = EventStreamResponse(head=b"H", tokens=[b"1", b"2"], tail=b"T", pacer=slow)
    task = asyncio.create_task(stream(SCOPE, client.receive, client.send))

    await client.first_body.wait()
    client.gone.set()
    await asyncio.wait_for(task, timeout=5)

    assert client.body() == b"H1"


async def test_delayed_response_sends_its_body_with_a_length() -> None:
    client = FakeClient()

    await DelayedResponse(b"{}", delay=1e-6, status_code=201)(SCOPE, client.receive, client.send)

    assert client.sent[0]["status"] == 201
    assert (b"content-length", b"2") in client.sent[0]["headers"]
    assert client.body() == b"{}"


def test_log_filter_hides_only_dropped_connections() -> None:
    def record(exc: BaseException) -> logging.LogRecord:
        return logging.LogRecord(
            "uvicorn.error", logging.ERROR, __file__, 1, "boom", None, (type(exc), exc, None)
        )

    hide = HideDroppedConnections()

    assert not hide.filter(record(ConnectionDropped()))
    assert not hide.filter(record(ClientDisconnect()))
    assert hide.filter(record(RuntimeError()))
