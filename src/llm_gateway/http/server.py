"""The HTTP/1.1 protocol the gateway is served with: uvicorn's httptools one, with limits.

uvicorn's httptools protocol reads a request's head without bound (a 128 MiB header cost
16 s of CPU) and for as long as the client likes (partial heads were held for good), and
answers what it cannot parse with a plain-text 400. This subclass, before any of the app
runs (authentication included):

* refuses a head past ``max_header_bytes`` or ``max_headers`` with 431; a head still
  incomplete is counted as its bytes arrive, so an endless header is cut off at the
  limit (plus one read) and never held whole;
* answers 408 to a head left incomplete for ``header_timeout_seconds`` (slowloris), and
  closes a new connection that sends nothing for that long (an idle one between
  requests is uvicorn's keep-alive timeout's);
* renders those and its own 400s in the gateway's JSON envelope, with an
  ``X-Request-Id``, writes their access line, and closes the connection.

The request body has its own time limit, in :mod:`llm_gateway.http.body_limit`.
uvicorn's h11 protocol bounds the head too (``h11_max_incomplete_event_size``) but costs
more CPU per request, answers 400 rather than 431, and has no head timeout either.
"""

from __future__ import annotations

import asyncio
import functools
import json
import uuid
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from llm_gateway.errors import GatewayError, HeaderTooLarge, InvalidRequest, RequestTimeout
from llm_gateway.http.context import RequestContext
from llm_gateway.logs import log_request
from llm_gateway.settings import Settings

# After a refusal, how long what the client still sends is read and dropped before the
# connection closes: closing on unread bytes sends a reset, which can destroy the answer
# before the client reads it.
LINGER_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class HeadLimits:
    max_header_bytes: int
    max_headers: int
    header_timeout_seconds: float


class _Refused(Exception):
    """Raised from a parser callback to stop parsing; carries the answer."""

    def __init__(self, error: GatewayError) -> None:
        super().__init__(error.message)
        self.error = error


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """Cheap on the common path: a head that arrives whole in one read costs one sum over
    its fields and no timer; only a head left incomplete by a read arms the timeout."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: HeadLimits,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._limits = limits
        # Between two requests' bodies: what arrives is (the start of) a head.
        self._reading_head = True
        # Bytes received while the current head is incomplete; heads completed so far.
        self._head_received = 0
        self._heads = 0
        self._refusal: GatewayError | None = None
        self._answered = False
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()  # a connection that never sends a byte

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._answered:
            return  # lingering after a refusal
        in_head, heads = self._reading_head, self._heads
        super().data_received(data)
        # A head still incomplete is held by the parser: bound it by the bytes received.
        if in_head and heads == self._heads and not self.transport.is_closing():
            self._head_received += len(data)
            if self._head_received > self._limits.max_header_bytes:
                self._answer(self._too_large())
            elif self._head_timer is None:
                self._await_head()

    def on_headers_complete(self) -> None:
        self._reading_head = False
        self._head_received = 0
        self._heads += 1
        self._stop_head_timer()
        limits, headers = self._limits, self.headers
        if len(headers) > limits.max_headers:
            self._refuse(
                HeaderTooLarge(
                    f"The request has more than {limits.max_headers} header fields.",
                    code="too_many_headers",
                )
            )
        if len(self.url) + sum(len(n) + len(v) for n, v in headers) > limits.max_header_bytes:
            self._refuse(self._too_large())
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._reading_head = True
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        # uvicorn's answer to anything the parser refused, our limits included.
        error = self._refusal or InvalidRequest(
            "The request is not valid HTTP/1.1.", code="invalid_http"
        )
        self._answer(error)

    def _too_large(self) -> GatewayError:
        return HeaderTooLarge(
            f"The request's head exceeds {self._limits.max_header_bytes} bytes.",
            code="header_too_large",
        )

    def _refuse(self, error: GatewayError) -> None:
        """Stop the parser (from its callback); uvicorn then calls ``send_400_response``."""
        self._refusal = error
        raise _Refused(error)

    def _await_head(self) -> None:
        self._head_timer = self.loop.call_later(
            self._limits.header_timeout_seconds, self._head_timed_out
        )

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self._answered:
            return
        if not self._head_received:
            self.transport.close()  # an idle connection: nothing to answer
            return
        self._answer(
            RequestTimeout(
                f"The request's head did not arrive within "
                f"{self._limits.header_timeout_seconds:g} s.",
                code="header_timeout",
            )
        )

    def _answer(self, error: GatewayError) -> None:
        """Write ``error`` in the envelope and close: the stream is not HTTP we can follow."""
        self._stop_head_timer()
        if self.transport.is_closing() or self._answered:
            return
        self._answered = True
        # The access line every request gets; this one never reached the app.
        context = RequestContext(
            request_id=uuid.uuid4().hex, status=error.status, error_code=error.code
        )
        log_request(context.fields())
        body = json.dumps(error.body(), separators=(",", ":")).encode()
        head = [
            b"HTTP/1.1 %d %s" % (error.status, HTTPStatus(error.status).phrase.encode()),
            b"content-type: application/json",
            b"content-length: %d" % len(body),
            b"connection: close",
            b"x-request-id: " + context.request_id.encode(),
        ]
        self.transport.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self.loop.call_later(LINGER_SECONDS, self.transport.close)
        else:
            self.transport.close()


def http_protocol(settings: Settings) -> Any:
    """The protocol for uvicorn's ``http`` option (picklable, for ``--workers``)."""
    limits = HeadLimits(
        settings.max_header_bytes, settings.max_headers, settings.request_header_timeout_seconds
    )
    return functools.partial(GuardedHttpToolsProtocol, limits=limits)
