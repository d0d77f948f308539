"""An upstream's answer as the gateway reads it: decoded, bounded, whole or line by line.

What an upstream can make the gateway hold is bounded (:class:`ResponseLimits`): a body
read whole (any response but a stream's, and any error response) and one line of a
stream, both counted after decompression, which happens here, a piece at a time, rather
than in httpx2, which inflates a whole chunk at once. Past a limit the read stops and the
connection is dropped. What the caller reads decides, not the Content-Type an upstream
chose. :class:`BoundedBody` is that body, for both kinds; :class:`Reply` hands it to the
openai kind, which reads it without httpx2 (:meth:`.transport.AiohttpTransport.exchange`).
aiohttp's errors are raised as the httpx2 ones huggingface_hub and the error table
(:mod:`llm_gateway.upstream.statuses`) know.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import aiohttp
import httpx2

from llm_gateway.errors import UpstreamBadResponse, UpstreamError, UpstreamResponseTooLarge

# The unread tail of a finished stream arrives at once; a stream still generating (one the
# client abandoned) sends more than this, or not within this time, and its connection is
# closed instead.
TAIL_BYTES = 16 * 1024
TAIL_SECONDS = 0.02
# Most bytes inflated from one piece of a compressed body before the limits look at them.
INFLATE_STEP = 64 * 1024


@dataclass(frozen=True, slots=True)
class ResponseLimits:
    """The most an upstream response may make the gateway hold, in decoded bytes."""

    max_body_bytes: int
    max_line_bytes: int


class BoundedBody(httpx2.AsyncByteStream):
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
        # A read failed. It is not read again (see at_eof): aiohttp would raise the same
        # stored exception to every read after it.
        self._failed = False
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

    def __aiter__(self) -> BoundedBody:
        return self

    async def __anext__(self) -> bytes:
        if self._failed:
            raise httpx2.ReadError("the response already failed")
        inflater = self._inflater
        if inflater is not None and inflater.unconsumed_tail:
            return self._count(inflater.decompress(inflater.unconsumed_tail, INFLATE_STEP))
        try:
            chunk = await self._response.content.readany()
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._failed = True
            raise as_httpx2(exc) from exc
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

    def at_eof(self) -> bool:
        """Read to its end (the upstream's, or a limit's), or failed: nothing more comes.

        A failed body is not read again: aiohttp would raise its stored exception once
        more, in the context of the error it became, which then holds it (its
        ``__cause__``) and is held by it (its ``__context__``): a reference cycle, and
        every frame of the failed stream with it, left to the cycle collector."""
        return self._failed or self._response.content.at_eof()

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


def as_httpx2(exc: aiohttp.ClientError | TimeoutError) -> httpx2.HTTPError:
    """aiohttp's exception as the httpx2 one a request or a body read would raise."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx2.ConnectTimeout(str(exc))
    if isinstance(exc, TimeoutError):  # aiohttp's socket read timeout is one
        return httpx2.ReadTimeout(str(exc) or "timed out reading the response")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx2.ConnectError(str(exc))
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return httpx2.RemoteProtocolError(str(exc))
    if isinstance(exc, aiohttp.ClientOSError):
        return httpx2.ReadError(str(exc))
    return httpx2.RemoteProtocolError(str(exc))


async def read_tail(chunks: AsyncIterator[bytes]) -> None:
    """Read what is left of a body read up to its end, but not past it (``[DONE]`` and
    the chunked encoding's last bytes), so its connection can serve another request."""
    unread = TAIL_BYTES
    try:
        async with asyncio.timeout(TAIL_SECONDS):
            async for chunk in chunks:
                unread -= len(chunk)
                if unread < 0:
                    return
    except (TimeoutError, httpx2.HTTPError, UpstreamError):
        return


class Reply:
    """An answer read straight from aiohttp (:meth:`AiohttpTransport.exchange`): its status
    and headers, then its body, whole or as lines, within the limits. Closing it reads a
    short tail left unread (:func:`read_tail`), releases the connection, then calls
    ``on_close``, once."""

    __slots__ = ("_body", "charset", "headers", "on_close", "status")

    def __init__(self, response: aiohttp.ClientResponse, body: BoundedBody) -> None:
        self.status = response.status
        self.headers = response.headers
        self.charset = response.charset
        self._body = body
        self.on_close: Callable[[], None] | None = None

    async def read(self) -> bytes:
        """The whole body (decoded, at most ``max_body_bytes`` of it)."""
        return b"".join([chunk async for chunk in self._body])

    def lines(self) -> AsyncIterator[bytes]:
        """The body's non-empty lines, without their ends (LF, CRLF or CR; no other
        character ends a line, unlike in ``str.splitlines``)."""
        return _Lines(self._body)

    async def aclose(self) -> None:
        try:
            if not self._body.at_eof():
                await read_tail(self._body)
        finally:
            await self._body.aclose()
            on_close, self.on_close = self.on_close, None
            if on_close is not None:
                on_close()


class _Lines:
    """A body's lines. An iterator, not an async generator: one left unfinished (a stream
    read up to its ``[DONE]``) would be closed by the event loop, in a task of its own."""

    __slots__ = ("_body", "_lines", "_rest")

    def __init__(self, body: AsyncIterator[bytes]) -> None:
        self._body = body
        self._lines: list[bytes] = []  # the chunk's lines not yet handed out, last first
        self._rest = b""  # the start of a line whose end has not arrived

    def __aiter__(self) -> _Lines:
        return self

    async def __anext__(self) -> bytes:
        while not self._lines:
            try:
                chunk = await anext(self._body)
            except StopAsyncIteration:
                if not self._rest:
                    raise
                line, self._rest = self._rest, b""
                return line
            # find, not `in`: `bytes in bytes` first tries the needle as an integer and
            # formats the TypeError that fails (2.5 times the cost, once a token).
            if chunk.find(b"\r") >= 0:
                # A \r\n cut between two chunks gives an empty line more, skipped.
                chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            lines = (self._rest + chunk if self._rest else chunk).split(b"\n")
            self._rest = lines.pop()
            lines.reverse()
            self._lines = list(filter(None, lines))
        return self._lines.pop()
