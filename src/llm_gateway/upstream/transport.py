"""The HTTP layer under ``InferenceClient``: an httpx2 transport over aiohttp's pool.

huggingface_hub speaks httpx2; :mod:`llm_gateway.upstream.client` hands it an ``httpx2.AsyncClient``
with this transport (through ``set_async_client_factory``). Two things it does that the
default transport does not: keep the pool's cost flat as it grows (aiohttp), and read the
few bytes huggingface_hub leaves unread after a stream's ``data: [DONE]``, so a finished
stream's connection goes back to the pool instead of being closed.

It also bounds what an upstream can make the gateway hold (:class:`ResponseLimits`): a
body read whole (any response but a stream's, see :func:`read_as_stream`, and any error
response), one line of a stream (which httpx2 buffers until its end), both counted after
decompression, which happens here, a piece at a time, rather than in httpx2, which
inflates a whole chunk at once. Past a limit the read stops and the connection is
dropped. What the caller reads decides, not the Content-Type an upstream chose.
"""

from __future__ import annotations

import asyncio
import contextvars
import ssl
import zlib
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import aiohttp
import httpx2
from aiohttp.abc import AbstractResolver

from llm_gateway.errors import UpstreamBadResponse, UpstreamError, UpstreamResponseTooLarge

# The unread tail of a finished stream arrives at once; a stream still generating (one the
# client abandoned) sends more than this, or not within this time, and its connection is
# closed instead.
TAIL_BYTES = 16 * 1024
TAIL_SECONDS = 0.02
# The encodings decoded here, and so the only ones asked for.
ACCEPT_ENCODING = "gzip, deflate"
# Most bytes inflated from one piece of a compressed body before the limits look at them.
INFLATE_STEP = 64 * 1024
# An idle connection older than this is closed rather than reused. It must be shorter than
# the upstream's own keep-alive timeout (5 s in uvicorn, so in vLLM and in the simulator):
# an upstream closes an idle connection without a word, and a request sent on it as it
# does is reset before any answer. With aiohttp's default, 15 s, 2 requests in 12 sent
# after an idle pause just under 5 s were reset; the gateway answered them 502.
IDLE_SECONDS = 4.0


_streaming: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "llm_gateway_streaming", default=False
)
# The request extension that asks for a response read line by line, for a caller that
# builds its own requests (the openai kind) rather than through a contextvar.
READ_AS_STREAM = "llm_gateway_read_as_stream"


@contextmanager
def read_as_stream() -> Iterator[None]:
    """The responses to requests sent within are read line by line, not whole (for
    huggingface_hub, which builds the requests; see READ_AS_STREAM otherwise)."""
    token = _streaming.set(True)
    try:
        yield
    finally:
        _streaming.reset(token)


@dataclass(frozen=True, slots=True)
class ResponseLimits:
    """The most an upstream response may make the gateway hold, in decoded bytes."""

    max_body_bytes: int
    max_line_bytes: int


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
                await self._read_tail(self._chunks)
        finally:
            await self._stream.aclose()

    @staticmethod
    async def _read_tail(chunks: AsyncIterator[bytes]) -> None:
        unread = TAIL_BYTES
        try:
            async with asyncio.timeout(TAIL_SECONDS):
                async for chunk in chunks:
                    unread -= len(chunk)
                    if unread < 0:
                        return
        except (TimeoutError, httpx2.HTTPError, UpstreamError):
            return


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
        session = self._session or self._open()
        body = await request.aread()
        request.headers["accept-encoding"] = ACCEPT_ENCODING
        with _aiohttp_errors():
            response = await session.request(
                request.method,
                str(request.url),
                headers=request.headers.multi_items(),
                data=body or None,
                allow_redirects=False,
                timeout=self._timeout(request),
            )
        try:
            streaming = _streaming.get() or READ_AS_STREAM in request.extensions
            whole = not streaming or response.status >= 400  # errors are read whole
            stream = _BoundedStream(response, self._limits, whole)
        except BaseException:
            response.close()
            raise
        return httpx2.Response(
            response.status,
            headers=stream.headers(),
            stream=_TailReadingStream(stream),
            extensions={
                "http_version": b"HTTP/1.1",
                "reason_phrase": (response.reason or "").encode(),
            },
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


class _BoundedStream(httpx2.AsyncByteStream):
    """A response's decoded body, stopped at the limits.

    A body read ``whole`` (by httpx2, into memory) counts all its bytes toward
    ``max_body_bytes``; a stream may be long, but none of its lines may exceed
    ``max_line_bytes``.
    """

    def __init__(
        self, response: aiohttp.ClientResponse, limits: ResponseLimits, whole: bool
    ) -> None:
        self._response = response
        self._lines = not whole
        self._limit = limits.max_body_bytes if whole else limits.max_line_bytes
        # Bytes of the current line (event stream) or of the body so far.
        self._held = 0
        self._inflater = _inflater(response.headers.get("Content-Encoding", ""))

    def headers(self) -> list[tuple[bytes, bytes]]:
        """The response's headers; a body decoded here is handed on as it is to be read."""
        if self._inflater is None:
            return list(self._response.raw_headers)
        return [
            (name, value)
            for name, value in self._response.raw_headers
            if name.lower() not in (b"content-encoding", b"content-length")
        ]

    def __aiter__(self) -> _BoundedStream:
        return self

    async def __anext__(self) -> bytes:
        inflater = self._inflater
        if inflater is not None and inflater.unconsumed_tail:
            return self._count(inflater.decompress(inflater.unconsumed_tail, INFLATE_STEP))
        with _aiohttp_errors():
            chunk = await self._response.content.readany()
        if not chunk:
            raise StopAsyncIteration
        if inflater is not None:
            try:
                chunk = inflater.decompress(chunk, INFLATE_STEP)
            except zlib.error as exc:
                raise httpx2.DecodingError(f"the upstream sent a corrupt body: {exc}") from exc
        return self._count(chunk)

    def _count(self, chunk: bytes) -> bytes:
        end = max(chunk.rfind(b"\n"), chunk.rfind(b"\r")) if self._lines else -1
        self._held = len(chunk) - end - 1 if end >= 0 else self._held + len(chunk)
        if self._held > self._limit:
            what = "a line of its stream" if self._lines else "its response"
            raise UpstreamResponseTooLarge(
                f"The upstream sent more than {self._limit} bytes in {what}.",
                code="upstream_response_too_large",
            )
        return chunk

    async def aclose(self) -> None:
        self._response.release()


def _inflater(encoding: str) -> zlib._Decompress | None:
    """A decoder for the body's Content-Encoding; None for a plain body."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj(zlib.MAX_WBITS)
    raise UpstreamBadResponse(
        f"The upstream sent a body encoded as {encoding[:40]!r}, which was not asked for.",
        code="upstream_bad_response",
    )


@contextmanager
def _aiohttp_errors() -> Iterator[None]:
    """aiohttp's exceptions as the httpx2 ones a request or a body read would raise."""
    try:
        yield
    except aiohttp.ConnectionTimeoutError as exc:
        raise httpx2.ConnectTimeout(str(exc)) from exc
    except TimeoutError as exc:  # aiohttp's socket read timeout is one
        raise httpx2.ReadTimeout(str(exc) or "timed out reading the response") from exc
    except aiohttp.ClientConnectorError as exc:
        raise httpx2.ConnectError(str(exc)) from exc
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError) as exc:
        raise httpx2.RemoteProtocolError(str(exc)) from exc
    except aiohttp.ClientOSError as exc:
        raise httpx2.ReadError(str(exc)) from exc
    except aiohttp.ClientError as exc:
        raise httpx2.RemoteProtocolError(str(exc)) from exc
