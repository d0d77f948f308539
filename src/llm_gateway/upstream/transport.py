"""The HTTP layer of both upstream kinds: aiohttp's pool, under an httpx2 transport or not.

huggingface_hub speaks httpx2; :mod:`llm_gateway.upstream.client` hands it an ``httpx2.AsyncClient``
with this transport (through ``set_async_client_factory``). Two things it does that the
default transport does not: keep the pool's cost flat as it grows (aiohttp), and read the
few bytes huggingface_hub leaves unread after a stream's ``data: [DONE]``, so a finished
stream's connection goes back to the pool instead of being closed. The openai kind,
which builds its own requests, sends them with :meth:`AiohttpTransport.exchange`
instead: the same connections, limits and errors, without httpx2's request and
response objects around each exchange (about 0.2 ms of CPU a request).

Both read the body within the limits of :mod:`llm_gateway.upstream.body`: a response is
read whole, but a stream's (see :func:`read_as_stream`), which is read line by line.
"""

from __future__ import annotations

import contextvars
import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
import httpx2
from aiohttp.abc import AbstractResolver

from llm_gateway.upstream.body import BoundedBody, Reply, ResponseLimits, as_httpx2, read_tail

# The encodings decoded here, and so the only ones asked for.
ACCEPT_ENCODING = "gzip, deflate"
# An idle connection older than this is closed rather than reused. It must be shorter than
# the upstream's own keep-alive timeout (5 s in uvicorn, so in vLLM and in the simulator):
# an upstream closes an idle connection without a word, and a request sent on it as it
# does is reset before any answer. With aiohttp's default, 15 s, 2 requests in 12 sent
# after an idle pause just under 5 s were reset; the gateway answered them 502.
IDLE_SECONDS = 4.0


_streaming: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "llm_gateway_streaming", default=False
)


@contextmanager
def read_as_stream() -> Iterator[None]:
    """The responses to requests sent within are read line by line, not whole (for
    huggingface_hub, which builds the requests)."""
    token = _streaming.set(True)
    try:
        yield
    finally:
        _streaming.reset(token)


class _TailReadingStream(httpx2.AsyncByteStream):
    """A response body that, when closed early, first reads a short tail left unread."""

    def __init__(self, stream: httpx2.AsyncByteStream) -> None:
        self._stream = stream
        self._chunks: AsyncIterator[bytes] | None = None

    def __aiter__(self) -> AsyncIterator[bytes]:
        self._chunks = aiter(self._stream)
        return self

    async def __anext__(self) -> bytes:
        assert self._chunks is not None
        return await anext(self._chunks)

    async def aclose(self) -> None:
        try:
            if self._chunks is not None:
                await read_tail(self._chunks)
        finally:
            await self._stream.aclose()


class AiohttpTransport(httpx2.AsyncBaseTransport):
    """httpx2's transport interface over aiohttp's connection pool.

    httpcore2's pool polls every idle connection (a syscall each) on every request and
    every release, so its cost grows with the pool; aiohttp keeps idle connections in a
    queue per host. aiohttp's errors become the httpx2 ones huggingface_hub and the
    upstream's error mapping expect. A response released before its end closes its
    connection; one read to the end goes back to the pool.
    """

    def __init__(
        self,
        limits: ResponseLimits,
        max_connections: int = 512,
        *,
        idle_seconds: float = IDLE_SECONDS,
        resolver: AbstractResolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        # resolver and ssl_context are for tests that serve real host names from loopback
        # with a test CA (tests/integration/test_hf_router.py); by default, the system's.
        self._limits = limits
        self._max_connections = max_connections
        self._idle_seconds = idle_seconds
        self._resolver = resolver
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[tuple[float | None, float | None], aiohttp.ClientTimeout] = {}

    def _open(self) -> aiohttp.ClientSession:
        # Created on first use, inside the running event loop, as aiohttp requires.
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=self._max_connections,
                limit_per_host=0,
                keepalive_timeout=self._idle_seconds,
                resolver=self._resolver,
                ssl=self._ssl,
            ),
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,  # httpx2 decodes, from the headers it is handed
            timeout=aiohttp.ClientTimeout(total=None),
        )
        return self._session

    def _timeout(self, request: httpx2.Request) -> aiohttp.ClientTimeout:
        timeouts = request.extensions.get("timeout", {})
        key = (timeouts.get("connect"), timeouts.get("read"))
        timeout = self._timeouts.get(key)
        if timeout is None:
            timeout = self._timeouts[key] = aiohttp.ClientTimeout(
                total=None, sock_connect=key[0], sock_read=key[1]
            )
        return timeout

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        request.headers["accept-encoding"] = ACCEPT_ENCODING
        streaming = _streaming.get()
        response, stream = await self._send(
            request.method,
            str(request.url),
            request.headers.multi_items(),
            await request.aread(),
            self._timeout(request),
            streaming,
        )
        return httpx2.Response(
            response.status,
            headers=stream.headers(),
            stream=_TailReadingStream(stream),
            extensions={
                "http_version": b"HTTP/1.1",
                "reason_phrase": (response.reason or "").encode(),
            },
        )

    async def exchange(
        self,
        url: str,
        headers: dict[str, str],
        body: bytes,
        timeout: aiohttp.ClientTimeout,
        *,
        stream: bool,
    ) -> Reply:
        """``POST`` ``body`` to ``url`` straight on aiohttp, for a caller that builds its own
        requests (the openai kind): the answer's headers read, its body left to read
        (line by line if ``stream``), within the same limits as a response of
        :meth:`handle_async_request`. Raises the same httpx2 errors."""
        headers["Accept-Encoding"] = ACCEPT_ENCODING
        response, body_stream = await self._send("POST", url, headers, body, timeout, stream)
        protocol = response.connection and response.connection.protocol
        if stream and response.status < 400 and protocol is not None:
            # Once a stream's headers are in, its waits are bounded by its model's
            # first-token and stall timeouts (core.failover, core.relay). aiohttp's read
            # timeout would be a second bound beside them, its timer moved on at every
            # piece of the body: once a token. Set again for the connection's next request.
            protocol.read_timeout = None
            protocol.start_timeout()  # no timeout now: drops the one the headers started
        return Reply(response, body_stream)

    async def _send(
        self,
        method: str,
        url: str,
        headers: Any,
        body: bytes,
        timeout: aiohttp.ClientTimeout,
        streaming: bool,
    ) -> tuple[aiohttp.ClientResponse, BoundedBody]:
        session = self._session or self._open()
        try:
            response = await session.request(
                method,
                url,
                headers=headers,
                data=body or None,
                allow_redirects=False,
                timeout=timeout,
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise as_httpx2(exc) from exc
        try:
            whole = not streaming or response.status >= 400  # errors are read whole
            return response, BoundedBody(response, self._limits, whole)
        except BaseException:
            response.close()
            raise

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
