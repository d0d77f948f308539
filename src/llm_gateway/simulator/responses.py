"""ASGI responses that misbehave on purpose: paced streams, hangs and dropped connections.

Route handlers return these like any Starlette response. Sleeps race the client's
disconnect, so an abandoned request never keeps the server busy.
"""

from __future__ import annotations

import asyncio
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
# Token frames a dropped stream sends before the connection goes.
DROP_AFTER_TOKENS = 3


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

    With ``drop`` the stream sends a few tokens then cuts the connection, with no tail and no
    terminating chunk, as a crashed replica or a reset proxy would.
    """

    def __init__(
        self,
        *,
        head: bytes,
        tokens: Sequence[bytes],
        tail: bytes,
        pacer: Pacer,
        drop: bool = False,
    ) -> None:
        self.status_code = 200
        self.raw_headers = SSE_HEADERS
        self.head = head
        self.tokens = tokens[:DROP_AFTER_TOKENS] if drop else tokens
        self.tail = b"" if drop else tail
        self.pacer = pacer
        self.drop = drop

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        if self.pacer.instant:
            body = b"".join((self.head, *self.tokens, self.tail))
            await send({"type": "http.response.body", "body": body, "more_body": self.drop})
        else:
            await _until_disconnect(receive, self._paced(send))
        if self.drop:
            raise ConnectionDropped

    async def _paced(self, send: Send) -> None:
        pending = self.head
        delay = self.pacer.first_token()
        for frame in self.tokens:
            if delay:
                await asyncio.sleep(delay)
            await send({"type": "http.response.body", "body": pending + frame, "more_body": True})
            pending = b""
            delay = self.pacer.next_token()
        last = pending + self.tail
        await send({"type": "http.response.body", "body": last, "more_body": self.drop})


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
    """Starts a response then cuts the connection before any body byte.

    uvicorn writes the status line as soon as the response starts and offers no way to close
    a connection without one; clients see the same broken-connection error either way.
    """

    def __init__(self) -> None:
        self.status_code = 200

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": JSON_HEADERS})
        raise ConnectionDropped
