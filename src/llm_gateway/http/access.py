"""The outermost middleware: a request id, a context and an access line for every request."""

from __future__ import annotations

import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llm_gateway.http.context import RequestContext
from llm_gateway.logs import log_request

REQUEST_ID_HEADER = b"x-request-id"
# The time the gateway added, in milliseconds, on completions (see Measurement.ready).
OVERHEAD_HEADER = b"x-gateway-overhead-ms"
# A client's own request id is kept only when it is short and plain, so it can go into
# logs, headers and exemplars as it is.
_SAFE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")
# Probes and scrapes arrive every few seconds; their access lines would bury the traffic.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        context = RequestContext(
            request_id=_request_id(scope), method=scope["method"], path=scope["path"]
        )
        context.attach(scope)
        context.outer_send = send
        header = (REQUEST_ID_HEADER, context.request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                context.status = message["status"]
                headers = [*message.get("headers", ()), header]
                if context.overhead_ms is not None:
                    headers.append((OVERHEAD_HEADER, b"%.3f" % context.overhead_ms))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            # The send holds the server's request, which holds the scope, which holds the
            # context: a reference cycle, the whole request left to the cycle collector.
            context.outer_send = None
            # No response started: the exception is on its way to the 500 handler.
            context.status = context.status or 500
            context.duration_ms = round((time.perf_counter() - context.arrived) * 1000, 3)
            if context.path not in QUIET_PATHS:
                log_request(context.fields())


def _request_id(scope: Scope) -> str:
    value: bytes
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER and _SAFE_REQUEST_ID.fullmatch(value):
            return value.decode()
    return uuid.uuid4().hex
