"""The pool under both upstream kinds: a transport that sends each request to an endpoint.

``InferenceClient`` builds every request for one base URL, the pool's first; this
transport, between httpx2 and the aiohttp one, asks the :class:`~.pool.Pool` for an
address, rewrites the request's URL (and ``Host``) to it, and tells the pool how the
attempt went: when the response's headers arrived (time to first byte) or how it failed,
and when its body was closed (no longer outstanding). A retry carries the same
``X-Request-Id``, so the pool can send it elsewhere. The openai kind, which builds its own
requests, sends them by :meth:`PoolTransport.exchange`, the same way without httpx2. A
background task re-resolves host names and sends a health check (``GET /health``, or the
upstream's own path) to every address.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import aiohttp
import httpx2

from llm_gateway.metrics.labels import EndpointOutcome
from llm_gateway.metrics.recorder import Recorder
from llm_gateway.settings import Settings
from llm_gateway.upstream.body import Reply
from llm_gateway.upstream.pool import Address, Pool
from llm_gateway.upstream.transport import AiohttpTransport

# An active health check waits at most this long (or the upstream timeout, if shorter).
HEALTH_TIMEOUT_SECONDS = 2.0


class PoolTransport(httpx2.AsyncBaseTransport):
    def __init__(self, inner: AiohttpTransport, pool: Pool, settings: Settings) -> None:
        self._inner = inner
        self._pool = pool
        self._prefix = str(httpx2.URL(pool.name)).rstrip("/")
        self._health_interval = settings.upstream_health_interval_seconds
        self._resolve_interval = settings.upstream_resolve_interval_seconds
        self._health_path = settings.upstream_health_path
        health_timeout = min(HEALTH_TIMEOUT_SECONDS, settings.upstream_timeout_seconds)
        self._health_timeout = {"connect": health_timeout, "read": health_timeout}
        self._watch: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._pool.resolve()
        self._watch = asyncio.create_task(
            self._pool.watch(self._check, self._health_interval, self._resolve_interval)
        )

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        url = str(request.url)
        suffix = url[len(self._prefix) :]
        if not url.startswith(self._prefix) or suffix[:1] not in ("", "/", "?"):
            return await self._inner.handle_async_request(request)
        request_id = request.headers.get("x-request-id")
        address = self._pool.pick(request_id)
        request.url = httpx2.URL(address.base_url + suffix)
        request.headers["Host"] = address.host
        started = time.perf_counter()
        try:
            response = await self._inner.handle_async_request(request)
        except BaseException as exc:
            self._failed(address, exc, started, request_id)
            raise
        self._answered(address, response.status_code, started, request_id)
        assert isinstance(response.stream, httpx2.AsyncByteStream)
        response.stream = _Outstanding(response.stream, lambda: self._pool.release(address))
        return response

    async def exchange(
        self,
        path: str,
        headers: dict[str, str],
        body: bytes,
        request_id: str,
        timeout: aiohttp.ClientTimeout,
        *,
        stream: bool,
    ) -> Reply:
        """``POST`` ``body`` to ``path`` on the endpoint the pool picks, as
        :meth:`handle_async_request` sends an httpx2 request (see
        :meth:`AiohttpTransport.exchange`); closing the reply releases the endpoint."""
        address = self._pool.pick(request_id)
        headers["Host"] = address.host
        started = time.perf_counter()
        try:
            reply = await self._inner.exchange(
                address.base_url + path, headers, body, timeout, stream=stream
            )
        except BaseException as exc:
            self._failed(address, exc, started, request_id)
            raise
        self._answered(address, reply.status, started, request_id)
        reply.on_close = lambda: self._pool.release(address)
        return reply

    def _answered(
        self, address: Address, status: int, started: float, request_id: str | None
    ) -> None:
        outcome = EndpointOutcome.SERVER_ERROR if status >= 500 else EndpointOutcome.SUCCESS
        self._pool.answered(address, outcome, time.perf_counter() - started, request_id)

    def _failed(
        self, address: Address, exc: BaseException, started: float, request_id: str | None
    ) -> None:
        outcome = _failure(exc)
        if outcome is not None:
            self._pool.answered(address, outcome, time.perf_counter() - started, request_id)
        self._pool.release(address)

    async def aclose(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        await self._inner.aclose()

    async def _check(self, address: Address) -> bool:
        """``GET`` the health path: anything but a 5xx or no answer means alive."""
        request = httpx2.Request(
            "GET",
            f"{address.base_url}{self._health_path}",
            headers={"Host": address.host},
            extensions={"timeout": self._health_timeout},
        )
        try:
            response = await self._inner.handle_async_request(request)
            try:
                await response.aread()
            finally:
                await response.aclose()
        except httpx2.TransportError:
            return False
        return response.status_code < 500


async def open_transport(
    settings: Settings, metrics: Recorder, transport: AiohttpTransport, upstream: str
) -> httpx2.AsyncBaseTransport:
    """The transport for ``settings``: aiohttp's, under a pool when upstream URLs are set;
    ``upstream`` is the routing table's name of the upstream, for the pool's metrics."""
    if not settings.upstream_endpoints:
        return transport
    return await open_pool(settings, metrics, transport, upstream)


async def open_pool(
    settings: Settings, metrics: Recorder, transport: AiohttpTransport, upstream: str
) -> PoolTransport:
    """aiohttp's transport under a pool of the upstream URLs, resolved and watched;
    ``upstream`` is the routing table's name of the upstream, for the pool's metrics."""
    pool = Pool(
        settings.upstream_endpoints,
        metrics,
        upstream=upstream,
        eject_failures=settings.upstream_eject_failures,
        eject_seconds=settings.upstream_eject_seconds,
    )
    pooled = PoolTransport(transport, pool, settings)
    await pooled.start()
    return pooled


def _failure(exc: BaseException) -> EndpointOutcome | None:
    """What an exception says of the endpoint; None when it says nothing (cancelled)."""
    if isinstance(exc, httpx2.TimeoutException):
        return EndpointOutcome.TIMEOUT
    if isinstance(exc, httpx2.TransportError):
        return EndpointOutcome.CONNECTION
    return None


class _Outstanding(httpx2.AsyncByteStream):
    """A response body that tells the pool, once, when it is closed."""

    def __init__(self, stream: httpx2.AsyncByteStream, on_close: Callable[[], None]) -> None:
        self._stream = stream
        self._on_close: Callable[[], None] | None = on_close

    def __aiter__(self) -> AsyncIterator[bytes]:
        return aiter(self._stream)  # the body's own chunks; closing is what this adds

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            if self._on_close is not None:
                self._on_close()
                self._on_close = None
