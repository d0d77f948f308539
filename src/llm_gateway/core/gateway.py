"""The gateway core: every door leads here.

``/generate``, ``/v1/chat/completions`` and ``/v1/completions`` turn their bodies into one
:class:`~llm_gateway.core.types.CompletionTask`, ``/v1/embeddings`` into an
:class:`~llm_gateway.core.types.EmbeddingTask`; :class:`Gateway` validates it and
resolves its model through the routing table (:mod:`llm_gateway.core.routing`, here
only), applies the client's rate limit and the concurrency limit, and calls the model's
upstream with retries, then its fallbacks, each on its own upstream
(:mod:`llm_gateway.core.failover`); a stream that breaks is continued
(:mod:`llm_gateway.core.relay`). Every
request is measured by one :class:`~llm_gateway.core.measurement.Measurement`, so the
endpoints, streamed or not, cannot disagree about a token, a latency or a failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from llm_gateway.core.buckets import BucketStore
from llm_gateway.core.config import GatewayConfig
from llm_gateway.core.failover import Failover, shutting_down, streams
from llm_gateway.core.limits import ConcurrencyLimiter, RateLimiter, Reservation
from llm_gateway.core.measurement import Measurement, Summary
from llm_gateway.core.metrics import Metrics
from llm_gateway.core.relay import Relay
from llm_gateway.core.routing import Route, Router
from llm_gateway.core.tracing import NO_TRACER, Tracer
from llm_gateway.core.types import (
    Completion,
    CompletionTask,
    Embeddings,
    EmbeddingTask,
    TokenUsage,
)
from llm_gateway.core.upstream import Upstream
from llm_gateway.errors import GatewayError, InvalidRequest

R = TypeVar("R", CompletionTask, EmbeddingTask)
A = TypeVar("A", Completion, Embeddings)


class Gateway:
    """The centre: the app hands it its config, an :class:`Upstream` by name for each of
    the routing table's upstreams, the metrics, with Redis the shared store of the rate
    limits (each worker's own memory otherwise) and, with traces on, the tracer."""

    def __init__(
        self,
        config: GatewayConfig,
        upstreams: Mapping[str, Upstream],
        metrics: Metrics,
        store: BucketStore | None = None,
        tracer: Tracer = NO_TRACER,
    ) -> None:
        self._router = Router(config.models, upstreams)
        self._max_prompt_chars = config.max_prompt_chars
        self._deadline = config.deadline_seconds
        self._failover = Failover(self._router, metrics, config.deadline_seconds)
        self._limiter = ConcurrencyLimiter(
            config.max_concurrency, config.max_queue, config.queue_timeout_seconds, metrics
        )
        self._quotas = RateLimiter(
            config.requests_per_minute,
            config.tokens_per_minute,
            metrics,
            store=store,
            failure_mode=config.failure_mode,
        )
        self._prices = self._router.prices
        self._metrics = metrics
        self._tracer = tracer
        self._streams: set[Relay] = set()

    async def close(self) -> None:
        await self._quotas.close()

    async def complete(self, request: CompletionTask, summary: Summary) -> Completion:
        return await self._answer(request, summary, _complete)

    async def embed(self, request: EmbeddingTask, summary: Summary) -> Embeddings:
        return await self._answer(request, summary, _embed)

    async def _answer(
        self, request: R, summary: Summary, call: Callable[[R, Route], Awaitable[A]]
    ) -> A:
        """A whole answer (not streamed), measured and charged to the client's budget."""
        route, measurement, reservation = await self._admit(request, summary)
        try:
            answer = await self._failover.run(
                request, route, measurement, call, self._deadline_of(measurement)
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
        if isinstance(answer, Completion):
            reasons = [c.finish_reason for c in answer.choices if c.finish_reason is not None]
            texts = [c.text or "" for c in answer.choices] if measurement.captures_content else None
            measurement.succeed(answer.usage, answer.tool_calls, reasons, answer.response_id, texts)
        else:
            measurement.succeed(answer.usage)
        return answer

    async def stream(self, request: CompletionTask, summary: Summary) -> Relay:
        """Wait for the stream's first chunk, then hand back an iterator over all of them.

        Failures before the first token surface here, so they are retried, and otherwise
        become plain HTTP errors rather than a 200 whose body carries the error.
        """
        route, measurement, reservation = await self._admit(request, summary)
        deadline = self._deadline_of(measurement)
        try:
            opened = await self._failover.run(
                request, route, measurement, streams(measurement), deadline
            )
            measurement.ready()
        except BaseException as exc:
            self._quotas.settle(reservation, 0)
            measurement.fail(exc)
            self._limiter.release()
            raise

        # Handed the relay rather than holding it: a stream's objects, in no cycle, are
        # freed as it ends, not left to the cycle collector's next full pass.
        def on_close(relay: Relay, usage: TokenUsage | None) -> None:
            self._streams.discard(relay)
            self._limiter.release()
            self._quotas.settle(reservation, usage.total_tokens if usage is not None else 0)

        resume = self._failover.resumer(request, measurement, deadline)
        relay = Relay(opened, measurement, on_close, deadline, self._deadline, resume)
        self._streams.add(relay)
        return relay

    def cut_off(self) -> None:
        """End every request still in progress: the drain time is over. An open stream
        ends with an error frame and ``[DONE]``, an attempt in progress with a 503; each
        is recorded as cancelled, before the server would cancel it with neither (and a
        traceback)."""
        self._failover.cut_off()
        for relay in list(self._streams):
            relay.interrupt(shutting_down())

    def _deadline_of(self, measurement: Measurement) -> float:
        """The request deadline, in event-loop time."""
        remaining = self._deadline - measurement.elapsed()
        return asyncio.get_running_loop().time() + remaining

    def model_for(self, request: CompletionTask | EmbeddingTask) -> Route:
        """The route of the model the request names, once its prompt's size is checked
        (see :meth:`Router.resolve`)."""
        if request.prompt_chars > self._max_prompt_chars:
            raise InvalidRequest(
                f"The prompt has {request.prompt_chars} characters; the limit is "
                f"{self._max_prompt_chars}.",
                code="prompt_too_long",
            )
        return self._router.resolve(request)

    async def _admit(
        self, request: CompletionTask | EmbeddingTask, summary: Summary
    ) -> tuple[Route, Measurement, Reservation | None]:
        """The request's route, measurement and reservation, once it is valid and within
        its limits."""
        route = self.model_for(request)
        measurement = Measurement(
            self._metrics, request, route.model.name, summary, self._prices, self._tracer
        )
        reservation = None
        try:
            reservation = await self._quotas.admit(request)
            waited = await self._limiter.acquire()
            if waited is not None:
                measurement.queued(waited)
        except GatewayError as exc:
            # Shed: the request counted, its tokens were not used.
            self._quotas.settle(reservation, 0)
            measurement.reject(exc)
            raise
        return route, measurement, reservation


async def _complete(request: CompletionTask, route: Route) -> Completion:
    return await route.upstream.complete(route.capped(request), route.model.model_id)


async def _embed(request: EmbeddingTask, route: Route) -> Embeddings:
    return await route.upstream.embed(request, route.model.model_id)
