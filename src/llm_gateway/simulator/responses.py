"""ASGI responses that misbehave on purpose: paced streams, hangs, stalls, dropped and reset
connections.

Route handlers return these like any Starlette response. Sleeps race the client's
disconnect, so an abandoned request never keeps the server busy.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Sequence
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from llm_gateway.simulator.pacing import Pacer

SSE_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache"),
]
JSON_HEADERS = [(b"content-type", b"application/json")]


class ConnectionDropped(Exception):
    """Raised after the response has started: the only way an ASGI app can make uvicorn cut
    the connection mid-response. ``app`` keeps it out of uvicorn's error log."""


def json_text(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"))


def json_body(payload: Any) -> bytes:
    return json_text(payload).encode()


async def _wait_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _until_disconnect(receive: Receive, work: Awaitable[None]) -> None:
    """Run ``work`` but give up as soon as the client goes away."""
    work_task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_wait_disconnect(receive))
    try:
        done, _ = await asyncio.wait({work_task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        work_task.cancel()
    if work_task in done:
        # Re-raises real errors.
        work_task.result()


class DelayedResponse(Response):
    """A whole body, sent after the model's simulated generation time."""

    def __init__(
        self,
        body: bytes,
        *,
        delay: float,
        status_code: int = 200,
        headers: Sequence[tuple[bytes, bytes]] = (),
    ) -> None:
        self.body = body
        self.status_code = status_code
        self.delay = delay
        self.raw_headers = [
            *JSON_HEADERS,
            (b"content-length", str(len(body)).encode()),
            *headers,
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.delay:
            await _until_disconnect(receive, self._send_later(send))
        else:
            await self._send(send)

    async def _send_later(self, send: Send) -> None:
        await asyncio.sleep(self.delay)
        await self._send(send)

    async def _send(self, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        await send({"type": "http.response.body", "body": self.body})


class EventStreamResponse(Response):
    """A server-sent event stream: ``head`` goes with the first token, ``tail`` after the last.

    ``first_token_delay`` replaces the pacer's time to first token. With ``break_after``
    the stream sends that many token frames and breaks, with no tail: silent for
    ``silence`` seconds (or until the client leaves), then the connection is cut, as a
    crashed replica, a reset proxy or a stuck engine would.
    """

    def __init__(
        self,
        *,
        head: bytes,
        tokens: Sequence[bytes],
        tail: bytes,
        pacer: Pacer,
        first_token_delay: float | None = None,
        break_after: int | None = None,
        silence: float = 0.0,
    ) -> None:
        self.status_code = 200
        self.raw_headers = SSE_HEADERS
        self.head = head
        self.broken = break_after is not None
        self.tokens = tokens if break_after is None else tokens[:break_after]
        self.tail = b"" if self.broken else tail
        self.pacer = pacer
        self.first_token_delay = first_token_delay
        self.silence = silence

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        if self.pacer.instant and self.first_token_delay is None and not self.silence:
            body = b"".join((self.head, *self.tokens, self.tail))
            await send({"type": "http.response.body", "body": body, "more_body": self.broken})
        else:
            await _until_disconnect(receive, self._paced(send))
        if self.broken:
            raise ConnectionDropped

    async def _paced(self, send: Send) -> None:
        pending = self.head
        delay = self.first_token_delay
        if delay is None:
            delay = self.pacer.first_token()
        for frame in self.tokens:
            if delay:
                await asyncio.sleep(delay)
            await send({"type": "http.response.body", "body": pending + frame, "more_body": True})
            pending = b""
            delay = self.pacer.next_token()
        if not self.broken:
            await send({"type": "http.response.body", "body": pending + self.tail})
            return
        if pending:
            await send({"type": "http.response.body", "body": pending, "more_body": True})
        await asyncio.sleep(self.silence)


class HangResponse(Response):
    """Accepts the request and says nothing until the client leaves or ``seconds`` pass.

    If the client outwaits the hang, it gets ``then``: giving up must end the request, or an
    idle client with no timeout would pin a task forever.
    """

    def __init__(self, seconds: float, then: Response) -> None:
        self.seconds = seconds
        self.then = then

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await asyncio.wait_for(_wait_disconnect(receive), self.seconds)
        except TimeoutError:
            await self.then(scope, receive, send)


class DropResponse(Response):
    """Starts a response then cuts the connection before any body byte: at once, or after
    ``silence`` seconds (or as soon as the client leaves), a stalled answer."""

    def __init__(self, silence: float = 0.0) -> None:
        self.status_code = 200
        self.silence = silence

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": JSON_HEADERS})
        if self.silence:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_wait_disconnect(receive), self.silence)
        raise ConnectionDropped


class ResetResponse(Response):
    """Closes the connection with no response at all, not even a status line.

    ASGI has no message for that, but uvicorn (both its HTTP implementations) marks the
    response started before it checks the headers: a header value it refuses makes it raise
    before writing a byte, and an app that then fails has its connection closed, not
    answered with a 500. A server that took the header would send a status line first,
    and the connection would still be cut (a drop).
    """

    def __init__(self) -> None:
        self.status_code = 200

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        unwritable = [(b"x-simulator-reset", b"\n")]
        try:
            await send({"type": "http.response.start", "status": 200, "headers": unwritable})
        except Exception as exc:
            raise ConnectionDropped from exc
        raise ConnectionDropped
