"""The request body's limits, in size and in time, enforced before the app sees it.

A declared Content-Length over the size limit is refused before any byte is read (413);
any other body is read up to the limit, then refused or handed on whole. Reading it may
take ``body_timeout_seconds`` at most: a body that never ends, or comes a byte a second,
gets 408 and its connection is closed. A client that leaves mid-body is logged as 499
(it gets no answer), not as the 400 of a body that would not parse.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llm_gateway.errors import ClientDisconnected, PayloadTooLarge, RequestTimeout
from llm_gateway.http.context import RequestContext
from llm_gateway.http.handlers import error_response


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int, body_timeout_seconds: float) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout_seconds = body_timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        length = _declared_length(scope) if scope["type"] == "http" else 0
        if length == 0:
            await self.app(scope, receive, send)
            return
        context = RequestContext.of(scope)
        body: bytes | None = None
        if length is None or length <= self.max_body_bytes:
            try:
                async with asyncio.timeout(self.body_timeout_seconds):
                    body = await _read_body(receive, self.max_body_bytes)
            except TimeoutError:
                late = RequestTimeout(
                    f"The request body did not arrive within {self.body_timeout_seconds:g} s.",
                    code="body_timeout",
                )
                response = error_response(late, context)
                response.headers["Connection"] = "close"  # the rest may never come
                await response(scope, receive, send)
                return
            except ClientDisconnected as gone:
                context.status, context.error_code = gone.status, gone.code
                return
        if body is None:
            error = PayloadTooLarge(
                f"The request body exceeds the gateway's limit of {self.max_body_bytes} bytes.",
                code="body_too_large",
            )
            await error_response(error, context)(scope, receive, send)
        else:
            await self.app(scope, _replay(body, receive), send)


def _declared_length(scope: Scope) -> int | None:
    """The Content-Length, or None for a chunked body; the server already rejected bad ones."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value)
    return 0 if scope["method"] in ("GET", "HEAD") else None


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None as soon as it grows past ``limit``."""
    parts: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientDisconnected(
                "The client left before sending its whole body.", code="client_closed_request"
            )
        part = message.get("body", b"")
        size += len(part)
        if size > limit:
            return None
        parts.append(part)
        more = message.get("more_body", False)
    return b"".join(parts)


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` again, the body already read handed over first."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            # After the body, an app only waits here for the client to go away.
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
