"""The request body size limit, enforced without reading unbounded data.

A declared Content-Length over the limit is refused before any byte is read, and a
chunked body is read up to the limit, then refused or handed on whole.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llm_gateway.errors import PayloadTooLarge
from llm_gateway.http.context import RequestContext
from llm_gateway.http.handlers import error_response


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _declared_length(scope)
        if length is None:
            body = await _read_body(receive, self.max_body_bytes)
            if body is not None:
                receive = _replay(body, receive)
        if (length or 0) > self.max_body_bytes or (length is None and body is None):
            error = PayloadTooLarge(
                f"The request body exceeds the gateway's limit of {self.max_body_bytes} bytes.",
                code="body_too_large",
            )
            await error_response(error, RequestContext.of(scope))(scope, receive, send)
        else:
            await self.app(scope, receive, send)


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
            break
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
