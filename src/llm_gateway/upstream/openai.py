"""The ``openai`` kind: any OpenAI-compatible server, spoken to on OpenAI's own routes.

vLLM, SGLang, llama.cpp, TGI 2.x, TEI, Ollama, LM Studio, OpenAI and Hugging Face's
router (``https://router.huggingface.co/v1``) all serve ``/v1/chat/completions``,
``/v1/completions`` and ``/v1/embeddings``. Chat goes to the first, a legacy completion
(a request with a ``prompt``) to the second, embeddings to the third, under each
upstream URL by the rule of :func:`~llm_gateway.upstream.openai_wire.api_root`. Bodies
are the client's own (:mod:`llm_gateway.upstream.openai_wire`).

Requests go through the gateway's relay, the same pieces the ``huggingface`` kind sits
on, without httpx2 around them: the pool (:mod:`llm_gateway.upstream.pool_transport`:
balancing, breakers, health checks) over aiohttp's connections
(:mod:`llm_gateway.upstream.transport`), the answer read within the response limits,
decompressed, whole or line by line (:mod:`llm_gateway.upstream.body`); opened at start
and closed with the app. Nothing process-wide is set: no client factory, no lent pool,
no contextvar.

Errors are mapped here, from a closed table (:mod:`llm_gateway.upstream.statuses`): an
error status, with the upstream's own message and code; and a failed exchange (timeout,
refused or dropped connection, undecodable body), which the transport raises as the
httpx2 error the table knows. A body that
is not JSON, or JSON not of the shape OpenAI's API gives, is an
:class:`~llm_gateway.errors.UpstreamBadResponse` from the reading itself
(:mod:`llm_gateway.upstream.wire`); anything else raised is a bug of ours, and stays
one (a 500 ``internal_error``).
"""

from __future__ import annotations

import codecs
import json
import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
import anyio
import httpx2

from llm_gateway.core.tracing import upstream_headers
from llm_gateway.core.types import (
    ACCEPTED,
    SKIPPED_FRAME,
    Chunk,
    Completion,
    CompletionTask,
    Embeddings,
    EmbeddingTask,
)
from llm_gateway.errors import UpstreamBadResponse
from llm_gateway.metrics.recorder import Recorder
from llm_gateway.routing import SHORTHAND_UPSTREAM
from llm_gateway.settings import Settings
from llm_gateway.upstream import openai_wire, sse, wire
from llm_gateway.upstream.body import Reply, ResponseLimits
from llm_gateway.upstream.pool_transport import PoolTransport, open_pool
from llm_gateway.upstream.statuses import from_status, from_transport
from llm_gateway.upstream.stream_check import StreamCheck
from llm_gateway.upstream.transport import AiohttpTransport

_JSON = "application/json"
_DONE_LINE = sse.DONE_LINE.encode()


class OpenAIUpstream:
    """Completions and embeddings from OpenAI-compatible servers, through the pool."""

    def __init__(
        self, settings: Settings, metrics: Recorder | None = None, *, name: str = SHORTHAND_UPSTREAM
    ) -> None:
        """``name`` is the routing table's, for the pool's metrics."""
        endpoints = settings.upstream_endpoints
        if not endpoints:
            raise ValueError("the openai upstream kind needs an upstream URL")
        if len({url.rstrip("/").endswith("/v1") for url in endpoints}) > 1:
            # The pool sends one path to every address: a /v1 in some URLs only would
            # send half the requests to /v1/v1/...
            raise ValueError("upstream URLs must all end in /v1, or none of them")
        self._settings = settings
        self._metrics = metrics or Recorder.disabled()
        self._name = name
        key = _api_key(settings.upstream_api_key_env)
        self._secrets = (key,) if key else ()
        self._headers = {"Content-Type": _JSON}
        if key:
            self._headers["Authorization"] = f"Bearer {key}"
        self._forward_faults = settings.upstream_is_simulator
        self._limits = ResponseLimits(
            settings.upstream_max_body_bytes, settings.upstream_max_line_bytes
        )
        # The path of OpenAI's routes under each upstream URL ("/v1", or none).
        self._path = openai_wire.api_root(endpoints[0])[len(endpoints[0]) :]
        timeout = settings.upstream_timeout_seconds
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout)
        self._pool: PoolTransport | None = None

    async def start(self) -> None:
        self._pool = await open_pool(
            self._settings,
            self._metrics,
            AiohttpTransport(self._limits, self._settings.upstream_max_connections),
            self._name,
        )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()

    async def complete(self, request: CompletionTask, model: str) -> Completion:
        route, body = openai_wire.completion_call(request, model)
        answer = await self._answer(route, body, request)
        return openai_wire.completion(answer, request, model)

    async def embed(self, request: EmbeddingTask, model: str) -> Embeddings:
        body = openai_wire.embedding_body(request, model)
        answer = await self._answer(openai_wire.EMBEDDINGS_ROUTE, body, request)
        return openai_wire.embeddings(answer, request, model)

    async def stream(self, request: CompletionTask, model: str) -> AsyncIterator[Chunk]:
        """Chunks as the upstream sends them; the response is released when this ends."""
        route, body = openai_wire.completion_call(request, model)
        read = wire.chat_chunks if request.prompt is None else openai_wire.completion_chunks
        check = StreamCheck(request.prompt_chars)
        reply = await self._send(route, body, request, stream=True)
        decode = _decoder(reply)
        try:
            yield ACCEPTED  # the headers are in: the route is not silent
            with _transport_errors():
                async for line in reply.lines():
                    if line == _DONE_LINE:
                        break
                    try:
                        frame = sse.sse_payload(decode(line), self._secrets)
                        if frame is None:
                            continue
                        chunks = read(frame)
                    except UpstreamBadResponse:
                        # One unreadable frame: passed over, the core counts and bounds them.
                        yield SKIPPED_FRAME
                        continue
                    for chunk in check.checked(chunks):
                        yield chunk
            yield check.end()
        finally:
            # Shielded: a client that left cancels this task, and the response must still
            # be released, or its connection stays open until the upstream ends.
            with anyio.CancelScope(shield=True):
                await reply.aclose()

    async def _answer(
        self, route: str, body: dict[str, Any], request: CompletionTask | EmbeddingTask
    ) -> Any:
        reply = await self._send(route, body, request, stream=False)
        try:
            with _transport_errors():
                content = await reply.read()
        finally:
            await reply.aclose()
        return wire.parsed(content)

    async def _send(
        self,
        route: str,
        body: dict[str, Any],
        request: CompletionTask | EmbeddingTask,
        *,
        stream: bool,
    ) -> Reply:
        """The upstream's answer to ``body`` on ``route``, its headers read (its body left
        to read); an error status raised as ours."""
        assert self._pool is not None, "start() first"
        # The attempt's trace context (traceparent, tracestate) when traces are on.
        headers = {**self._headers, "X-Request-Id": request.request_id, **upstream_headers()}
        if self._forward_faults:
            headers.update(request.origin.simulator_headers)
        with _transport_errors():
            reply = await self._pool.exchange(
                self._path + route,
                headers,
                json.dumps(body).encode(),
                request.request_id,
                self._timeout,
                stream=stream,
            )
            if reply.status < 300:
                return reply
            try:
                content = await reply.read()  # read whole by the transport: an error's body
            finally:
                await reply.aclose()
        raise from_status(
            reply.status,
            reply.headers.get("Retry-After"),
            _decoder(reply)(content),
            self._secrets,
        )


def _api_key(variable: str | None) -> str | None:
    """The upstream's API key, from the environment variable the settings name."""
    if variable is None:
        return None
    key = os.environ.get(variable)
    if not key:
        raise ValueError(
            f"LLM_GATEWAY_UPSTREAM_API_KEY_ENV names {variable}, which is not set or empty"
        )
    return key


@contextmanager
def _transport_errors() -> Iterator[None]:
    """A failure of the HTTP exchange as ours (see statuses.from_transport)."""
    try:
        yield
    except (httpx2.HTTPError, httpx2.StreamError) as exc:
        raise from_transport(exc) from exc


def _decoder(reply: Reply) -> Callable[[bytes], str]:
    """How the reply's text is decoded: by its charset, UTF-8 if it names none or one
    Python does not know (as httpx2 decodes a response's text), never failing."""
    encoding = "utf-8"
    if reply.charset is not None:
        try:
            encoding = codecs.lookup(reply.charset).name
        except LookupError:
            pass
    # Not functools.partial: its keywords cost a dict a line.
    return lambda line: line.decode(encoding, "replace")
