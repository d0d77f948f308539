"""The gateway core: both doors lead here, and every measurement is taken here.

``/generate`` and ``/v1/chat/completions`` turn their bodies into one
:class:`CompletionRequest`; :class:`Gateway` resolves the model, applies the client's rate
limit and the concurrency limit, calls the upstream with retries and fallbacks, and
records metrics and the access-log fields through one :class:`_Measurement`, so the two
endpoints, streamed or not, cannot disagree about a token, a latency or a failure.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from llm_gateway.completion import Chunk, Completion, CompletionRequest, Usage
from llm_gateway.errors import GatewayError, InvalidRequest, ModelNotFound, UpstreamError
from llm_gateway.limits import ConcurrencyLimiter, RateLimiter
from llm_gateway.logs import RequestLog
from llm_gateway.metrics import Metrics, Outcome
from llm_gateway.retry import RetryPolicy, retryable
from llm_gateway.settings import Settings
from llm_gateway.upstream import Upstream

T = TypeVar("T")
Stream = tuple[Chunk, AsyncIterator[Chunk]]


class Gateway:
    def __init__(self, settings: Settings, upstream: Upstream, metrics: Metrics) -> None:
        self._aliases = settings.model_aliases
        self._fallbacks = [self._aliases[name] for name in settings.fallback_models]
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
            settings.rate_limit_requests_per_minute, settings.rate_limit_tokens_per_minute, metrics
        )
        self._upstream = upstream
        self._metrics = metrics

    def resolve_model(self, name: str | None) -> str:
        """The model id for a name or alias a client sent; the default when it sent none."""
        if name is None:
            return next(iter(self._aliases.values()))
        try:
            return self._aliases[name]
        except KeyError:
            known = ", ".join(sorted(self._aliases))
            raise ModelNotFound(
                f"Model {name!r} is not served by this gateway. Available: {known}.",
                code="model_not_found",
                param="model",
            ) from None

    def check_prompt_size(self, chars: int) -> None:
        if chars > self._max_prompt_chars:
            raise InvalidRequest(
                f"The prompt has {chars} characters; the limit is {self._max_prompt_chars}.",
                code="prompt_too_long",
            )

    async def complete(self, request: CompletionRequest, log: RequestLog) -> Completion:
        measurement = _Measurement(self._metrics, request, log)
        await self._admit(request, measurement)
        try:
            completion = await self._attempts(request, measurement, self._upstream.complete)
        except BaseException as exc:
            measurement.fail(exc)
            raise
        finally:
            self._limiter.release()
        self._quotas.charge(request.client, completion.usage.total_tokens)
        measurement.succeed(completion.usage)
        return completion

    async def stream(self, request: CompletionRequest, log: RequestLog) -> Relay:
        """Wait for the stream's first chunk, then hand back an iterator over all of them.

        Failures before the first token surface here, so they are retried, and otherwise
        become plain HTTP errors rather than a 200 whose body carries the error.
        """
        measurement = _Measurement(self._metrics, request, log)
        await self._admit(request, measurement)
        try:
            first, chunks = await self._attempts(request, measurement, self._open_stream)
        except BaseException as exc:
            measurement.fail(exc)
            self._limiter.release()
            raise

        def on_close(usage: Usage | None) -> None:
            self._limiter.release()
            if usage is not None:
                self._quotas.charge(request.client, usage.total_tokens)

        return Relay(first, chunks, measurement, on_close)

    async def _admit(self, request: CompletionRequest, measurement: _Measurement) -> None:
        try:
            self._quotas.admit(request.client)
            await self._limiter.acquire()
        except GatewayError:
            measurement.reject()
            raise

    async def _attempts(
        self,
        request: CompletionRequest,
        measurement: _Measurement,
        call: Callable[[CompletionRequest], Awaitable[T]],
    ) -> T:
        """``call`` on the requested model, then on each fallback, retrying each in turn."""
        models = [request.model, *(m for m in self._fallbacks if m != request.model)]
        error: UpstreamError | None = None
        for model in models:
            if error is not None:
                self._metrics.fallbacks.labels(model).inc()
            attempt_request = dataclasses.replace(request, model=model)
            attempt = 1
            while True:
                measurement.attempt(model)
                try:
                    result = await call(attempt_request)
                except UpstreamError as exc:
                    measurement.end_attempt(Outcome.ERROR, exc)
                    error = exc
                else:
                    return result
                delay = self._retry.delay(attempt, error)
                if delay is None or measurement.elapsed() + delay > self._deadline:
                    break
                self._metrics.retries.labels(model, error.reason).inc()
                await asyncio.sleep(delay)
                attempt += 1
            if not retryable(error):
                break
        assert error is not None
        raise error

    async def _open_stream(self, request: CompletionRequest) -> Stream:
        chunks = aiter(self._upstream.stream(request))
        try:
            first = await anext(chunks, Chunk())
        except BaseException:
            await chunks.aclose()  # type: ignore[attr-defined]
            raise
        return first, chunks


class Relay:
    """An open stream's chunks, measured as they pass and closed exactly once.

    Iterating to the end records success; an upstream failure or a cancellation records
    that; ``aclose`` on a stream nobody finished (the client left) records it cancelled.
    """

    def __init__(
        self,
        first: Chunk,
        chunks: AsyncIterator[Chunk],
        measurement: _Measurement,
        on_close: Callable[[Usage | None], None],
    ) -> None:
        self._pending: Chunk | None = first
        self._chunks = chunks
        self._measurement = measurement
        self._on_close = on_close
        self._usage: Usage | None = None
        self._closed = False

    def __aiter__(self) -> Relay:
        return self

    @property
    def model(self) -> str:
        """The model streaming: the requested one, or a fallback."""
        return self._measurement.model

    async def __anext__(self) -> Chunk:
        if self._closed:
            raise StopAsyncIteration
        try:
            if self._pending is not None:
                chunk, self._pending = self._pending, None
            else:
                chunk = await anext(self._chunks)
        except StopAsyncIteration:
            await self._close(None)
            raise
        except BaseException as exc:
            await self._close(exc)
            raise
        if chunk.text:
            self._measurement.token()
        self._usage = chunk.usage or self._usage
        return chunk

    async def aclose(self) -> None:
        if not self._closed:
            await self._close(asyncio.CancelledError())

    async def _close(self, exc: BaseException | None) -> None:
        # Recorded before the first await: a cancelled task may not get past it.
        self._closed = True
        if exc is None:
            usage = self._usage or Usage(0, self._measurement.tokens)
            self._on_close(usage)
            self._measurement.succeed(usage)
        else:
            self._on_close(None)
            self._measurement.fail(exc)
        await self._chunks.aclose()  # type: ignore[attr-defined]


class _Measurement:
    """One request's metrics and access-log fields, each recorded exactly once.

    A request makes one or more upstream attempts (retries, fallbacks); each attempt is
    in flight and timed on its own, labelled with the model it called, and the request is
    counted once at the end, labelled with the model that answered it.
    """

    __slots__ = (
        "_attempt_started",
        "_first_token_at",
        "_last_token_at",
        "_log",
        "_metrics",
        "_request",
        "model",
        "tokens",
    )

    def __init__(self, metrics: Metrics, request: CompletionRequest, log: RequestLog) -> None:
        self._metrics = metrics
        self._request = request
        self._log = log
        self._attempt_started: float | None = None
        self._first_token_at = 0.0
        self._last_token_at = 0.0
        self.model = request.model
        self.tokens = 0
        log.model = request.model
        log.stream = request.stream
        log.client = request.client

    def elapsed(self) -> float:
        return time.perf_counter() - self._log.started

    def attempt(self, model: str) -> None:
        self.model = self._log.model = model
        self._metrics.child("upstream_in_flight", model).inc()
        self._attempt_started = time.perf_counter()

    def end_attempt(self, outcome: Outcome, exc: BaseException | None = None) -> None:
        if self._attempt_started is None:
            return
        metrics, model = self._metrics, self.model
        metrics.child("upstream_in_flight", model).dec()
        metrics.child("upstream_duration", model, outcome).observe(
            time.perf_counter() - self._attempt_started, {"request_id": self._request.request_id}
        )
        self._attempt_started = None
        if isinstance(exc, UpstreamError):
            status = str(exc.upstream_status) if exc.upstream_status else ""
            metrics.child("upstream_errors", model, exc.reason, status).inc()
            self._log.error_code = exc.code

    def token(self) -> None:
        now = time.perf_counter()
        if not self.tokens:
            self._first_token_at = now
        self._last_token_at = now
        self.tokens += 1

    def reject(self) -> None:
        self._finish(Outcome.REJECTED, 0)

    def succeed(self, usage: Usage) -> None:
        self.end_attempt(Outcome.SUCCESS)
        metrics, model, endpoint = self._metrics, self.model, self._request.endpoint
        metrics.child("prompt_tokens", model, endpoint).inc(usage.prompt_tokens)
        metrics.child("completion_tokens", model, endpoint).inc(usage.completion_tokens)
        metrics.child("tokens_per_request", model, endpoint, "prompt").observe(usage.prompt_tokens)
        metrics.child("tokens_per_request", model, endpoint, "completion").observe(
            usage.completion_tokens
        )
        self._log.prompt_tokens = usage.prompt_tokens
        self._log.completion_tokens = usage.completion_tokens
        # A chunk may carry several tokens: the upstream's count is the true one.
        self._finish(Outcome.SUCCESS, max(self.tokens, usage.completion_tokens))

    def fail(self, exc: BaseException) -> None:
        cancelled = isinstance(exc, asyncio.CancelledError | GeneratorExit)
        outcome = Outcome.CANCELLED if cancelled else Outcome.ERROR
        self.end_attempt(outcome, exc)
        self._finish(outcome, self.tokens)

    def _finish(self, outcome: Outcome, generated: int) -> None:
        request, metrics = self._request, self._metrics
        model, endpoint = self.model, request.endpoint
        stream = "true" if request.stream else "false"
        metrics.child("request_duration", model, endpoint, stream, outcome).observe(
            self.elapsed(), {"request_id": request.request_id}
        )
        metrics.child("requests", model, endpoint, stream, outcome).inc()
        if self.tokens:
            metrics.child("time_to_first_token", model, endpoint).observe(
                self._first_token_at - self._log.started, {"request_id": request.request_id}
            )
        if self.tokens and generated > 1:
            metrics.child("time_per_output_token", model, endpoint).observe(
                (self._last_token_at - self._first_token_at) / (generated - 1)
            )
        self._log.outcome = outcome
