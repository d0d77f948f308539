"""The gateway core: both doors lead here, and every measurement is taken here.

``/generate`` and ``/v1/chat/completions`` turn their bodies into one
:class:`CompletionRequest`; :class:`Gateway` resolves the model, calls the upstream and
records metrics and the access-log fields through one :class:`_Measurement`, so the two
endpoints, streamed or not, cannot disagree about a token, a latency or a failure.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from llm_gateway.completion import Chunk, Completion, CompletionRequest, Usage
from llm_gateway.errors import InvalidRequest, ModelNotFound, UpstreamError
from llm_gateway.logs import RequestLog
from llm_gateway.metrics import Metrics, Outcome
from llm_gateway.settings import Settings
from llm_gateway.upstream import Upstream


class Gateway:
    def __init__(self, settings: Settings, upstream: Upstream, metrics: Metrics) -> None:
        self._aliases = settings.model_aliases
        self._max_prompt_chars = settings.max_prompt_chars
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
        try:
            completion = await self._upstream.complete(request)
        except BaseException as exc:
            measurement.fail(exc)
            raise
        measurement.succeed(completion.usage)
        return completion

    async def stream(self, request: CompletionRequest, log: RequestLog) -> AsyncIterator[Chunk]:
        """Wait for the stream's first chunk, then hand back an iterator over all of them.

        Failures before the first token surface here, so they become plain HTTP errors
        rather than a 200 whose body carries the error.
        """
        measurement = _Measurement(self._metrics, request, log)
        chunks = aiter(self._upstream.stream(request))
        try:
            first = await anext(chunks)
        except StopAsyncIteration:
            first = Chunk()
        except BaseException as exc:
            measurement.fail(exc)
            await chunks.aclose()  # type: ignore[attr-defined]
            raise
        return self._relay(first, chunks, measurement)

    async def _relay(
        self, first: Chunk, chunks: AsyncIterator[Chunk], measurement: _Measurement
    ) -> AsyncIterator[Chunk]:
        usage: Usage | None = None
        try:
            chunk: Chunk | None = first
            while chunk is not None:
                if chunk.text:
                    measurement.token()
                usage = chunk.usage or usage
                yield chunk
                chunk = await anext(chunks, None)
        except BaseException as exc:
            measurement.fail(exc)
            raise
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]
        measurement.succeed(usage or Usage(0, measurement.tokens))


class _Measurement:
    """Timing, in-flight and outcome of one upstream call, recorded exactly once."""

    __slots__ = (
        "_first_token_at",
        "_labels",
        "_last_token_at",
        "_log",
        "_metrics",
        "_request",
        "_started",
        "_upstream_started",
        "tokens",
    )

    def __init__(self, metrics: Metrics, request: CompletionRequest, log: RequestLog) -> None:
        self._metrics = metrics
        self._request = request
        self._log = log
        self._started = log.started
        self._first_token_at = 0.0
        self._last_token_at = 0.0
        self.tokens = 0
        log.model = request.model
        log.stream = request.stream
        metrics.upstream_in_flight.labels(request.model).inc()
        self._upstream_started = time.perf_counter()

    def token(self) -> None:
        now = time.perf_counter()
        if not self.tokens:
            self._first_token_at = now
        self._last_token_at = now
        self.tokens += 1

    def succeed(self, usage: Usage) -> None:
        request, metrics = self._request, self._metrics
        model, endpoint = request.model, request.endpoint
        metrics.prompt_tokens.labels(model, endpoint).inc(usage.prompt_tokens)
        metrics.completion_tokens.labels(model, endpoint).inc(usage.completion_tokens)
        per_request = metrics.tokens_per_request
        per_request.labels(model, endpoint, "prompt").observe(usage.prompt_tokens)
        per_request.labels(model, endpoint, "completion").observe(usage.completion_tokens)
        self._log.prompt_tokens = usage.prompt_tokens
        self._log.completion_tokens = usage.completion_tokens
        # A chunk may carry several tokens: the upstream's count is the true one.
        self._finish(Outcome.SUCCESS, max(self.tokens, usage.completion_tokens))

    def fail(self, exc: BaseException) -> None:
        if isinstance(exc, asyncio.CancelledError | GeneratorExit):
            self._finish(Outcome.CANCELLED, self.tokens)
            return
        if isinstance(exc, UpstreamError):
            status = str(exc.upstream_status) if exc.upstream_status else ""
            self._metrics.upstream_errors.labels(self._request.model, exc.reason, status).inc()
            self._log.error_code = exc.code
        self._finish(Outcome.ERROR, self.tokens)

    def _finish(self, outcome: Outcome, generated: int) -> None:
        now = time.perf_counter()
        request, metrics = self._request, self._metrics
        model, endpoint = request.model, request.endpoint
        exemplar = {"request_id": request.request_id}
        stream = "true" if request.stream else "false"
        metrics.upstream_in_flight.labels(model).dec()
        metrics.upstream_duration.labels(model, outcome).observe(
            now - self._upstream_started, exemplar
        )
        metrics.request_duration.labels(model, endpoint, stream, outcome).observe(
            now - self._started, exemplar
        )
        metrics.requests.labels(model, endpoint, stream, outcome).inc()
        if self.tokens:
            metrics.time_to_first_token.labels(model, endpoint).observe(
                self._first_token_at - self._started, exemplar
            )
        if self.tokens and generated > 1:
            metrics.time_per_output_token.labels(model, endpoint).observe(
                (self._last_token_at - self._first_token_at) / (generated - 1)
            )
        self._log.outcome = outcome
