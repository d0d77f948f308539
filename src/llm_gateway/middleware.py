"""The request-context middleware: a request id and an access line for every request.

It also enforces the body size limit without reading unbounded data: a declared
Content-Length over the limit is refused before any byte is read, and a chunked body is
read up to the limit, then refused or handed on whole.
"""

from __future__ import annotations

import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llm_gateway.errors import PayloadTooLarge
from llm_gateway.handlers import error_response
from llm_gateway.logs import RequestLog, log_request

REQUEST_ID_HEADER = b"x-request-id"
# A client's own request id is kept only when it is short and plain, so it can go into
# logs, headers and exemplars as it is.
_SAFE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")
# Probes and scrapes arrive every few seconds; their access lines would bury the traffic.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        log = RequestLog(request_id=_request_id(scope), method=scope["method"], path=scope["path"])
        scope.setdefault("state", {})["request_log"] = log
        header = (REQUEST_ID_HEADER, log.request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                log.status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            length = _declared_length(scope)
            if length is None:
                body = await _read_body(receive, self.max_body_bytes)
                if body is not None:
                    receive = _replay(body, receive)
            if (length or 0) > self.max_body_bytes or (length is None and body is None):
                await self._too_large(scope, receive, send_with_id, log)
            else:
                await self.app(scope, receive, send_with_id)
        finally:
            # No response started: the exception is on its way to the 500 handler.
            log.status = log.status or 500
            log.duration_ms = round((time.perf_counter() - log.started) * 1000, 3)
            if log.path not in QUIET_PATHS:
                log_request(log)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, log: RequestLog) -> None:
        error = PayloadTooLarge(
            f"The request body exceeds the gateway's limit of {self.max_body_bytes} bytes.",
            code="body_too_large",
        )
        await error_response(error, log)(scope, receive, send)


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


def _request_id(scope: Scope) -> str:
    value: bytes
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER and _SAFE_REQUEST_ID.fullmatch(value):
            return value.decode()
    return uuid.uuid4().hex
