"""The gateway core: every door leads here.

``/generate``, ``/v1/chat/completions`` and ``/v1/completions`` turn their bodies into one
:class:`~llm_gateway.core.types.CompletionRequest`, ``/v1/embeddings`` into an
:class:`~llm_gateway.core.types.EmbeddingRequest`; :class:`Gateway` validates it and
resolves its model among those of its kind (here only), applies the client's rate limit
and the concurrency limit, and calls the upstream with retries and fallbacks. Every
request is measured by one :class:`~llm_gateway.core.measurement.Measurement`, so the
endpoints, streamed or not, cannot disagree about a token, a latency or a failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from llm_gateway.core.buckets import BucketStore
from llm_gateway.core.limits import ConcurrencyLimiter, RateLimiter, Reservation
from llm_gateway.core.measurement import Measurement
from llm_gateway.core.redis_buckets import RedisBuckets
from llm_gateway.core.relay import Relay
from llm_gateway.core.retry import RetryPolicy, retryable
from llm_gateway.core.types import (
    Chunk,
    Completion,
    CompletionRequest,
    EmbeddingRequest,
    Embeddings,
    ModelKind,
    Outcome,
    Usage,
)
from llm_gateway.core.upstream import Upstream
from llm_gateway.errors import (
    DeadlineExceeded,
    GatewayError,
    InvalidRequest,
    ModelNotFound,
    ShuttingDown,
    UpstreamError,
)
from llm_gateway.http.context import RequestContext
from llm_gateway.metrics.recorder import Recorder
from llm_gateway.settings import Settings

T = TypeVar("T")
R = TypeVar("R", CompletionRequest, EmbeddingRequest)
A = TypeVar("A", Completion, Embeddings)
Stream = tuple[Chunk, AsyncIterator[Chunk]]


class Gateway:
    def __init__(self, settings: Settings, upstream: Upstream, metrics: Recorder) -> None:
        self._aliases = {
            ModelKind.CHAT: settings.model_aliases,
            ModelKind.EMBEDDING: settings.embedding_model_aliases,
        }
        chat = settings.model_aliases
        self._fallbacks = {
            ModelKind.CHAT: [chat[name] for name in settings.fallback_models],
            ModelKind.EMBEDDING: [],
        }
        self._max_prompt_chars = settings.max_prompt_chars
        self._deadline = settings.request_deadline_seconds
        self._retry = RetryPolicy(
            attempts=settings.retry_attempts,
            backoff_seconds=settings.retry_backoff_seconds,
            max_backoff_seconds=settings.retry_max_backoff_seconds,
        )
        self._limiter = ConcurrencyLimiter(
            settings.max_concurrency, settings.max_queue, settings.queue_timeout_seconds, metrics
        )
        self._quotas = RateLimiter(
            settings.rate_limit_requests_per_minute,
            settings.rate_limit_tokens_per_minute,
            metrics,
            store=_shared_buckets(settings, metrics),
            failure_mode=settings.rate_limit_failure_mode,
        )
        self._prices = settings.model_prices
        self._upstream = upstream
        self._metrics = metrics
        self._streams: set[Relay] = set()
        # The deadlines of the attempts in progress; the cut-off brings them forward.
        self._attempt_timeouts: set[asyncio.Timeout] = set()
        self._cut_off = False

    async def close(self) -> None:
        await self._quotas.close()

    async def complete(self, request: CompletionRequest, context: RequestContext) -> Completion:
        return await self._answer(request, context, self._upstream.complete)

    async def embed(self, request: EmbeddingRequest, context: RequestContext) -> Embeddings:
        return await self._answer(request, context, self._upstream.embed)

    async def _answer(
        self, request: R, context: RequestContext, call: Callable[[R, str], Awaitable[A]]
    ) -> A:
        """A whole answer (not streamed), measured and charged to the client's budget."""
        measurement, reservation = await self._admit(request, context)
        try:
            answer = await self._attempts(
                request, measurement, call, self._deadline_of(measurement)
            )
            measurement.ready()
        except BaseException as exc:
            # A failed request is not charged for its tokens.
            self._quotas.settle(reservation, 0)
            measurement.fail(exc)
            raise
        finally:
            self._limiter.release()
        self._quotas.settle(reservation, answer.usage.total_tokens)
        tool_calls = answer.tool_calls if isinstance(answer, Completion) else 0
        measurement.succeed(answer.usage, tool_calls)
        return answer

    async def stream(self, request: CompletionRequest, context: RequestContext) -> Relay:
        """Wait for the stream's first chunk, then hand back an iterator over all of them.

        Failures before the first token surface here, so they are retried, and otherwise
        become plain HTTP errors rather than a 200 whose body carries the error.
        """
        measurement, reservation = await self._admit(request, context)
        deadline = self._deadline_of(measurement)
        try:
            first, chunks = await self._attempts(request, measurement, self._open_stream, deadline)
            measurement.ready()
        except BaseException as exc:
            self._quotas.settle(reservation, 0)
            measurement.fail(exc)
            self._limiter.release()
            raise

        def on_close(usage: Usage | None) -> None:
            self._streams.discard(relay)
            self._limiter.release()
            self._quotas.settle(reservation, usage.total_tokens if usage is not None else 0)

        relay = Relay(first, chunks, measurement, on_close, deadline, self._deadline)
        self._streams.add(relay)
        return relay

    def cut_off(self) -> None:
        """End every request still in progress: the drain time is over. An open stream
        ends with an error frame and ``[DONE]``, an attempt in progress with a 503; each
        is recorded as cancelled, before the server would cancel it with neither (and a
        traceback)."""
        self._cut_off = True
        now = asyncio.get_running_loop().time()
        for timeout in self._attempt_timeouts:
            timeout.reschedule(now)
        for relay in list(self._streams):
            relay.interrupt(_shutting_down())

    def _deadline_of(self, measurement: Measurement) -> float:
        """The request deadline, in event-loop time."""
        remaining = self._deadline - measurement.elapsed()
        return asyncio.get_running_loop().time() + remaining

    def model_for(self, request: CompletionRequest | EmbeddingRequest) -> str:
        """The model id for the request, once its prompt's size is checked.

        The default model of the request's kind when the client named none; a 400 for a
        model of the other kind (a chat model asked for embeddings); a 404 for a name
        not served.
        """
        if request.prompt_chars > self._max_prompt_chars:
            raise InvalidRequest(
                f"The prompt has {request.prompt_chars} characters; the limit is "
                f"{self._max_prompt_chars}.",
                code="prompt_too_long",
            )
        aliases = self._aliases[request.kind]
        if request.model is None:
            return next(iter(aliases.values()))
        try:
            return aliases[request.model]
        except KeyError:
            pass
        known = ", ".join(sorted(aliases))
        if any(request.model in other for other in self._aliases.values()):
            raise InvalidRequest(
                f"Model {request.model!r} is not a {request.kind} model. {request.kind.title()} "
                f"models: {known}.",
                code="wrong_model_kind",
                param="model",
            )
        raise ModelNotFound(
            f"Model {request.model!r} is not served by this gateway. Available: {known}.",
            code="model_not_found",
            param="model",
        )

    async def _admit(
        self, request: CompletionRequest | EmbeddingRequest, context: RequestContext
    ) -> tuple[Measurement, Reservation | None]:
        """The request's measurement and reservation, once it is valid and within its limits."""
        measurement = Measurement(
            self._metrics, request, self.model_for(request), context, self._prices
        )
        reservation = None
        try:
            reservation = await self._quotas.admit(request)
            await self._limiter.acquire()
        except GatewayError as exc:
            # Shed: the request counted, its tokens were not used.
            self._quotas.settle(reservation, 0)
            measurement.reject(exc)
            raise
        return measurement, reservation

    async def _attempts(
        self,
        request: R,
        measurement: Measurement,
        call: Callable[[R, str], Awaitable[T]],
        deadline: float,
    ) -> T:
        """``call`` on the requested model, then on each fallback, retrying each in turn.

        ``deadline`` bounds the attempt in progress too: an upstream trickling bytes
        resets the read timeout with each one, and would otherwise hold the request.
        """
        requested: str = measurement.model
        models = [requested, *(m for m in self._fallbacks[request.kind] if m != requested)]
        error: UpstreamError | None = None
        for model in models:
            attempt = 1
            while True:
                measurement.attempt(model, fallback=error is not None and attempt == 1)
                timeout = asyncio.timeout_at(deadline)
                self._attempt_timeouts.add(timeout)
                try:
                    async with timeout:
                        result = await call(request, model)
                except UpstreamError as exc:
                    measurement.end_attempt(Outcome.ERROR, exc)
                    error = exc
                except TimeoutError:
                    if not timeout.expired():
                        raise
                    if self._cut_off:
                        measurement.end_attempt(Outcome.CANCELLED)
                        raise _shutting_down() from None
                    error = DeadlineExceeded(self._deadline)
                    measurement.end_attempt(Outcome.ERROR, error)
                    raise error from None
                else:
                    return result
                finally:
                    self._attempt_timeouts.discard(timeout)
                delay = self._retry.delay(attempt, error)
                if delay is None or measurement.elapsed() + delay > self._deadline:
                    break
                measurement.retry(error)
                await asyncio.sleep(delay)
                attempt += 1
            if not retryable(error):
                break
        assert error is not None
        raise error

    async def _open_stream(self, request: CompletionRequest, model: str) -> Stream:
        chunks = aiter(self._upstream.stream(request, model))
        try:
            first = await anext(chunks, Chunk())
        except BaseException:
            await chunks.aclose()  # type: ignore[attr-defined]
            raise
        return first, chunks


def _shutting_down() -> ShuttingDown:
    return ShuttingDown(
        "The gateway is shutting down and its drain time ran out; retry.",
        code="gateway_shutting_down",
    )


def _shared_buckets(settings: Settings, metrics: Recorder) -> BucketStore | None:
    """Redis, when configured: the rate limits then hold across workers and replicas."""
    if settings.redis_url is None:
        return None
    password = settings.redis_password
    return RedisBuckets(
        settings.redis_url.get_secret_value(),
        password.get_secret_value() if password is not None else None,
        settings.redis_timeout_seconds,
        metrics,
    )
