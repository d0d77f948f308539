"""The ``huggingface`` kind: every call is made here, through ``huggingface_hub``.

One connection pool (an ``httpx2.AsyncClient`` whose transport is aiohttp's connector, see
:mod:`llm_gateway.upstream.transport`) lives as long as the app. Each request
gets its own light ``AsyncInferenceClient`` that borrows the pool: ``huggingface_hub``
keeps every streamed response open on its client's exit stack until that client is
closed, so a client shared by all requests would hold one connection per stream ever
opened. Closing the per-request client releases its stream at once, and the pool keeps
connections alive between requests. ``huggingface_hub`` stops reading a stream at
``data: [DONE]``, a few bytes before the HTTP body ends; the transport reads that tail on
close so the connection goes back to the pool instead of being dropped.

Routed through Inference Providers (no upstream URL), the client's first request for a model
may ask the Hub where to send it: :mod:`llm_gateway.upstream.hub` does that off the event loop
first. Errors become ours in :mod:`llm_gateway.upstream.errors`.

What ``huggingface_hub`` needs set process-wide, all of it here, set in
:meth:`HuggingFaceUpstream.start` (the ``openai`` kind, :mod:`llm_gateway.upstream.openai`,
needs none of it):

* ``set_async_client_factory``: InferenceClient builds its own httpx2 client per call; the
  factory hands it the gateway's pool instead, lent through the ``_lent_pool`` contextvar
  (set in the request's task), so connections are pooled, bounded and balanced.
* ``set_client_factory``: the Hub lookups of provider routing (sync, in a worker thread)
  go through the same pool (:mod:`llm_gateway.upstream.hub`).
* ``constants.HF_HUB_DISABLE_IMPLICIT_TOKEN``: else the host's saved token would be sent
  to whatever upstream this is.
* ``constants.HF_HUB_DISABLE_TELEMETRY``: else the first request fetches an agent registry
  from the Hub, synchronously, on the event loop.
* :func:`~llm_gateway.upstream.transport.read_as_stream`, a contextvar: InferenceClient
  builds the requests, so only a contextvar can tell the transport to read a response
  line by line rather than whole.
* :func:`stream_frames` reads a stream's lines from inside huggingface_hub's generator
  (its parsed outputs cost more than the gateway's own work per token).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import logging
import ssl
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx2
from aiohttp.abc import AbstractResolver
from huggingface_hub import (
    AsyncInferenceClient,
    constants,
    get_session,
    set_async_client_factory,
    set_client_factory,
)

from llm_gateway.core.tracing import upstream_headers
from llm_gateway.core.types import (
    ACCEPTED,
    Chunk,
    Completion,
    CompletionTask,
    Embeddings,
    EmbeddingTask,
    TokenUsage,
)
from llm_gateway.metrics.recorder import Recorder
from llm_gateway.routing import SHORTHAND_UPSTREAM
from llm_gateway.settings import Settings
from llm_gateway.upstream import hub, sse, wire
from llm_gateway.upstream.body import ResponseLimits
from llm_gateway.upstream.errors import mapped, mapped_errors, unroutable
from llm_gateway.upstream.pool_transport import open_transport
from llm_gateway.upstream.stream_check import StreamCheck
from llm_gateway.upstream.transport import AiohttpTransport, read_as_stream

logger = logging.getLogger(__name__)
_lent_pool: contextvars.ContextVar[httpx2.AsyncClient | None] = contextvars.ContextVar(
    "llm_gateway_lent_pool", default=None
)


class _LentPool:
    """Hands the gateway's pool to one AsyncInferenceClient, which may not close it."""

    __slots__ = ("_pool",)

    def __init__(self, pool: httpx2.AsyncClient) -> None:
        self._pool = pool

    async def __aenter__(self) -> httpx2.AsyncClient:
        return self._pool

    async def __aexit__(self, *exc_info: object) -> None:
        return None


def _session_factory() -> Any:
    # Called by huggingface_hub inside the request's own task, where the pool was lent.
    pool = _lent_pool.get()
    if pool is None:
        # Any other AsyncInferenceClient in the process: as huggingface_hub's default, it
        # reads error bodies, which huggingface_hub needs to tell its errors apart.
        return httpx2.AsyncClient(
            follow_redirects=True, timeout=None, event_hooks={"response": [_read_error_body]}
        )
    return _LentPool(pool)


async def _drop_authorization(request: httpx2.Request) -> None:
    request.headers.pop("authorization", None)


async def _read_error_body(response: httpx2.Response) -> None:
    # Streamed error responses must be read before huggingface_hub raises, or the
    # exception carries no message.
    if response.status_code >= 400:
        await response.aread()


class HuggingFaceUpstream:
    """Completions and embeddings from Hugging Face, a dedicated endpoint or the simulator.

    Chat goes through ``chat_completion``, a legacy text completion (a request with a
    ``prompt``) through ``text_generation`` and embeddings through ``feature_extraction``.
    """

    def __init__(
        self,
        settings: Settings,
        metrics: Recorder | None = None,
        *,
        name: str = SHORTHAND_UPSTREAM,
        resolver: AbstractResolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """``name`` is the routing table's, for the pool's metrics; ``resolver`` and
        ``ssl_context`` go to the transport (for tests; system defaults)."""
        self._settings = settings
        self._metrics = metrics or Recorder.disabled()
        self._name = name
        # With a pool, InferenceClient addresses the first; the transport picks the endpoint.
        self._base_url = next(iter(settings.upstream_endpoints), None)
        self._provider = settings.provider
        self._token = settings.hf_token.get_secret_value() if settings.hf_token else None
        self._secrets = (self._token,) if self._token else ()
        self._timeout = settings.upstream_timeout_seconds
        self._forward_faults = settings.upstream_is_simulator
        self._limits = ResponseLimits(
            settings.upstream_max_body_bytes, settings.upstream_max_line_bytes
        )
        self._resolver = resolver
        self._ssl_context = ssl_context
        self._pool: httpx2.AsyncClient | None = None
        # Models whose provider routing huggingface_hub has resolved and cached.
        self._routed: set[str] = set()
        self._routing: dict[str, asyncio.Lock] = {}

    async def start(self) -> None:
        # The gateway sends the token it was configured with, or none: left to itself,
        # huggingface_hub would read the host's saved token (~/.cache/huggingface/token)
        # on every call and send it to whatever upstream this is.
        constants.HF_HUB_DISABLE_IMPLICIT_TOKEN = True
        # With telemetry on, the user-agent of every request names the AI agent running the
        # process, looked up in a registry that huggingface_hub 2.4 fetches synchronously from
        # {HF_ENDPOINT}/api/agent-harnesses (3 s timeout) on the first request: a call to the
        # Hub nobody asked for, made on the event loop. This is the public switch
        # (HF_HUB_DISABLE_TELEMETRY); it also stops huggingface_hub's telemetry pings.
        constants.HF_HUB_DISABLE_TELEMETRY = True
        set_async_client_factory(_session_factory)
        # Its own hooks kept (offline mode, request ids), over the bridge to this pool.
        hub_hooks = get_session().event_hooks
        set_client_factory(lambda: hub.session_factory(hub_hooks))
        if self._base_url is None and not hub.available():
            logger.warning(
                "this huggingface_hub has no get_provider_helper: provider routing is "
                "resolved on the event loop, where a slow Hub stalls every request"
            )
        hooks: dict[str, list[Any]] = {"response": [_read_error_body]}
        if self._token is None:
            # The provider helper passes ``api_key or get_token()`` explicitly, which the
            # setting above does not stop: the saved token would still go out.
            hooks["request"] = [_drop_authorization]
        self._pool = httpx2.AsyncClient(
            follow_redirects=True,
            timeout=self._timeout,
            transport=await open_transport(
                self._settings,
                self._metrics,
                AiohttpTransport(
                    self._limits,
                    self._settings.upstream_max_connections,
                    resolver=self._resolver,
                    ssl_context=self._ssl_context,
                ),
                self._name,
            ),
            event_hooks=hooks,
        )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()

    async def complete(self, request: CompletionTask, model: str) -> Completion:
        client = self._client(request)
        try:
            # Only huggingface_hub's calls inside the boundary; what they return is read
            # outside it, so a bug in reading it is not taken for the upstream's fault.
            with mapped_errors(self._secrets):
                await self._route(model)
                if request.prompt is None:
                    output = await client.chat_completion(**wire.chat_arguments(request, model))
                else:
                    output = await client.text_generation(
                        request.prompt,
                        **wire.generation_arguments(request),
                        decoder_input_details=True,
                        model=self._task_model(model),
                    )
            if request.prompt is None:
                return wire.chat_completion(output, request, model)
            return wire.generated_completion(output, request, model)
        finally:
            await _close(client)

    async def stream(self, request: CompletionTask, model: str) -> AsyncIterator[Chunk]:
        """Chunks as the upstream sends them; the response is released when this ends."""
        client = self._client(request)
        try:
            with mapped_errors(self._secrets):
                await self._route(model)
                with read_as_stream():
                    if request.prompt is not None:
                        outputs = await client.text_generation(
                            request.prompt,
                            **wire.generation_arguments(request),
                            stream=True,
                            model=self._task_model(model),
                        )
                    else:
                        outputs = await client.chat_completion(
                            **wire.chat_arguments(request, model), stream=True
                        )
            frames = outputs if request.prompt is not None else stream_frames(outputs)
            logprobs, offset = bool(request.logprobs), 0
            check = StreamCheck(request.prompt_chars)
            yield ACCEPTED  # the headers are in: the route is not silent
            while True:
                try:
                    frame = await anext(frames, None)
                except Exception as exc:  # the boundary, per frame: see mapped_errors
                    error = mapped(exc, self._secrets)
                    if error is exc:
                        raise
                    try:
                        raise error from exc
                    finally:
                        del error  # as mapped_errors does: no cycle through this frame
                if frame is None:
                    break
                if request.prompt is None:
                    chunks = wire.chat_chunks(frame)
                else:
                    chunks = wire.generated_chunks(frame, offset, logprobs)
                    offset += sum(len(chunk.text) for chunk in chunks)
                for chunk in check.checked(chunks):
                    yield chunk
            yield check.end()
        finally:
            await _close(client)

    async def embed(self, request: EmbeddingTask, model: str) -> Embeddings:
        client = self._client(request)
        try:
            with mapped_errors(self._secrets):
                await self._route(model)
                # Token ids go as they are: TEI reads them; the type hint says text only.
                inputs: Any = request.inputs
                array = await client.feature_extraction(
                    inputs, dimensions=request.dimensions, model=self._task_model(model)
                )
            if array.ndim == 1:
                array = array.reshape(1, -1)
            if array.ndim != 2 or len(array) != len(request.inputs):
                raise wire.malformed()
            vectors = tuple(row.astype("<f4").tobytes() for row in array)
            # Counted here (see EmbeddingTask.prompt_tokens): TEI reports none.
            usage = TokenUsage(request.prompt_tokens, 0, prompt_estimated=True)
            return Embeddings(model, vectors, usage)
        finally:
            await _close(client)

    def _task_model(self, model: str) -> str | None:
        """The model argument of text_generation and feature_extraction: none for a base
        URL, which serves one model (given one, InferenceClient would route to it)."""
        return None if self._base_url is not None else model

    async def _route(self, model: str) -> None:
        """Resolve ``model``'s provider routing once, in a worker thread (see upstream.hub)."""
        if self._base_url is not None or model in self._routed or not hub.available():
            return
        assert self._pool is not None
        async with self._routing.setdefault(model, asyncio.Lock()):
            if model in self._routed:
                return
            loop = asyncio.get_running_loop()
            try:
                await asyncio.to_thread(
                    hub.prepare, self._pool, loop, self._provider, model, self._token
                )
            except json.JSONDecodeError:
                raise  # an unreadable Hub answer, mapped as any unreadable answer
            except ValueError as exc:
                raise unroutable(exc, self._secrets) from exc
            self._routed.add(model)

    def _client(self, request: CompletionTask | EmbeddingTask) -> AsyncInferenceClient:
        _lent_pool.set(self._pool)
        # The attempt's trace context (traceparent, tracestate) when traces are on.
        headers = {"X-Request-Id": request.request_id, **upstream_headers()}
        if self._forward_faults:
            headers.update(request.origin.simulator_headers)
        if self._base_url is not None:
            return AsyncInferenceClient(
                base_url=self._base_url, token=self._token, timeout=self._timeout, headers=headers
            )
        return AsyncInferenceClient(
            provider=self._provider,  # type: ignore[arg-type]
            token=self._token,
            timeout=self._timeout,
            headers=headers,
        )


def stream_frames(outputs: AsyncIterator[Any]) -> AsyncIterator[dict[str, Any]]:
    """A chat stream's frames as JSON objects, read straight from its lines.

    huggingface_hub turns each line into nested dataclasses, every field filled (null
    when absent), which cost more than the gateway's own work per token and are not
    what it relays. ``chat_completion(stream=True)`` hands back a generator that has not
    started, over the response's lines: those lines are read here instead, one
    ``json.loads`` each. That reads huggingface_hub's internals (checked against 2.4);
    where the lines cannot be reached, its parsed outputs are read instead, which are
    dicts too (logged once).
    """
    frame = getattr(outputs, "ag_frame", None)
    lines = None if frame is None else frame.f_locals.get("lines")
    if lines is None or not hasattr(lines, "__anext__"):
        _warn_parsed_stream()
        return outputs
    return _parsed_lines(outputs, lines)


async def _parsed_lines(
    outputs: AsyncIterator[Any], lines: AsyncIterator[str]
) -> AsyncIterator[dict[str, Any]]:
    try:
        async for line in lines:
            if line == sse.DONE_LINE:
                return
            payload = sse.sse_payload(line)
            if payload is not None:
                yield payload
    finally:
        # The unstarted wrapper: closing it runs nothing; the response closes with the client.
        await outputs.aclose()  # type: ignore[attr-defined]


@functools.cache
def _warn_parsed_stream() -> None:
    logger.warning(
        "huggingface_hub's chat stream hides its lines from the gateway; reading its parsed "
        "outputs instead (slower)"
    )


async def _close(client: AsyncInferenceClient) -> None:
    # Shielded: a client that disconnected cancels the request's task, and the upstream
    # response must still be closed, or its connection stays open until the upstream ends.
    with anyio.CancelScope(shield=True):
        await client.close()  # type: ignore[no-untyped-call]
