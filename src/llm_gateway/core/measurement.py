"""One request's measurement: its metrics and access-log fields, each recorded once.

Every metric of a request toward the upstream is recorded here, through the recorder's
typed methods: attempts, upstream errors, retries, fallbacks, refusals (a client's rate
limit, load shedding), tokens and their estimated cost by client, latencies, the time
the gateway itself added, and the final outcome. What the access line shows of the
request, the measurement keeps in its :class:`Summary`, a record of the core's own that
the HTTP layer holds and prints: the core knows nothing of HTTP.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from llm_gateway.core.metrics import Metrics
from llm_gateway.core.tracing import NO_SPAN, NO_TRACER, AttemptSpan, Tracer, begin_attempt
from llm_gateway.core.types import (
    CompletionTask,
    EmbeddingTask,
    FallbackReason,
    Outcome,
    Price,
    TokenUsage,
)
from llm_gateway.errors import (
    ErrorReason,
    GatewayError,
    Overloaded,
    RateLimited,
    ShuttingDown,
    UpstreamError,
)

# The client label of requests made while API keys are off.
ANONYMOUS = "anonymous"
NO_PRICES: Mapping[str, Price] = {}


@dataclass(slots=True)
class Summary:
    """What the access line shows of one HTTP request's way through the core.

    Created with the request's clock (``arrived``, its ``perf_counter()`` on arrival:
    durations, the SLO metrics among them, run from it) and filled by the measurements
    of its internal requests: the model that answered, the outcome, the tokens, the time
    the gateway added (:meth:`Measurement.ready`).
    """

    arrived: float
    model: str | None = None
    stream: bool | None = None
    outcome: Outcome | None = None
    error_code: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    overhead_ms: float | None = None


class Measurement:
    """A request makes one or more upstream attempts (retries, fallbacks); each attempt is
    in flight, timed and traced on its own, labelled with the model it called, and the
    request is counted once at the end, labelled with the model that answered it.

    Latency exemplars carry the request id, and the trace id when the request is traced.
    """

    __slots__ = (
        "_arrived",
        "_attempt_started",
        "_client",
        "_exemplar",
        "_span",
        "_summary",
        "_first_token_at",
        "_last_token_at",
        "_metrics",
        "_prices",
        "_request",
        "_tracer",
        "_upstream_seconds",
        "model",
        "tokens",
    )

    def __init__(
        self,
        metrics: Metrics,
        request: CompletionTask | EmbeddingTask,
        model: str,
        summary: Summary,
        prices: Mapping[str, Price] = NO_PRICES,
        tracer: Tracer = NO_TRACER,
    ) -> None:
        self._metrics = metrics
        self._tracer = tracer
        self._span: AttemptSpan = NO_SPAN
        trace_id = tracer.trace_id()
        self._exemplar = {"request_id": request.request_id}
        if trace_id is not None:
            self._exemplar["trace_id"] = trace_id
        self._request = request
        self._summary = summary
        self._prices = prices
        self._client = request.client or ANONYMOUS
        self._arrived = summary.arrived
        self._attempt_started: float | None = None
        # Time spent in upstream attempts that have ended.
        self._upstream_seconds = 0.0
        self._first_token_at = 0.0
        self._last_token_at = 0.0
        self.model = model
        self.tokens = 0
        summary.model = model
        summary.stream = request.stream

    def elapsed(self) -> float:
        return time.perf_counter() - self._arrived

    def attempt(
        self,
        model: str,
        number: int = 1,
        fallback: FallbackReason | None = None,
        *,
        upstream: str = "",
        model_id: str | None = None,
        continuation: bool = False,
    ) -> None:
        """Attempt ``number`` (from 1) on ``model``: a fallback's first (``fallback``
        says why), or a retry, or the ``continuation`` of a broken stream. The span names
        what goes upstream: ``model_id`` (``model`` unless given) at ``upstream``, the
        routing table's name of the upstream."""
        if fallback is not None:
            self._metrics.fallback(model, fallback)
        self.model = self._summary.model = model
        self._metrics.attempt_started(model)
        self._span = self._tracer.attempt(
            self._request,
            model_id or model,
            number,
            fallback is not None,
            upstream,
            continuation=continuation,
        )
        begin_attempt(self._span)
        self._attempt_started = time.perf_counter()

    @property
    def captures_content(self) -> bool:
        """Whether the attempt's span records the answer's text (then pass ``texts``)."""
        return self._span.captures_content

    def queued(self, seconds: float) -> None:
        """The request waited ``seconds`` in the queue for a concurrency slot."""
        self._tracer.queued(seconds)

    def retry(self, error: UpstreamError) -> None:
        self._metrics.retry(self.model, error.reason)

    def continued(self, model: str, reason: ErrorReason) -> None:
        """The stream broke (``reason``) and ``model`` is asked to continue it."""
        self._metrics.stream_continued(model, reason)

    def frame_skipped(self) -> None:
        """An unreadable stream frame was passed over."""
        self._metrics.frame_skipped(self.model)

    def end_attempt(self, outcome: Outcome, exc: BaseException | None = None) -> None:
        if self._attempt_started is None:
            return
        seconds = time.perf_counter() - self._attempt_started
        self._upstream_seconds += seconds
        self._metrics.attempt_ended(self.model, outcome, seconds, self._exemplar)
        self._span.end(outcome, exc)
        self._attempt_started = None
        if isinstance(exc, UpstreamError):
            self._metrics.upstream_error(self.model, exc.reason, exc.upstream_status)
            self._summary.error_code = exc.code

    def ready(self) -> None:
        """The response can start: the complete answer is in, or a stream's first token.

        Records the time the gateway added so far: all of it but the upstream calls (for
        a stream, the attempt still open counts to its first token). Once per request.
        """
        now = time.perf_counter()
        upstream = self._upstream_seconds
        if self._attempt_started is not None:
            upstream += now - self._attempt_started
        overhead = max(0.0, now - self._arrived - upstream)
        self._metrics.overhead(self._request.endpoint, self._request.stream, overhead)
        self._summary.overhead_ms = round(overhead * 1000, 3)

    def token(self) -> None:
        now = time.perf_counter()
        if not self.tokens:
            self._first_token_at = now
            self._span.first_token()
        self._last_token_at = now
        self.tokens += 1

    def reject(self, error: GatewayError) -> None:
        """The gateway turned the request away itself: counted with its reason."""
        if isinstance(error, RateLimited):
            self._metrics.rate_limited(error.client, error.limit)
        elif isinstance(error, Overloaded):
            self._metrics.shed(error.reason)
        self._tracer.refused(error)
        self._finish(Outcome.REJECTED, 0)

    def succeed(
        self,
        usage: TokenUsage,
        tool_calls: int = 0,
        finish_reasons: Sequence[str] = (),
        response_id: str | None = None,
        texts: Sequence[str] | None = None,
    ) -> None:
        """The answer is complete; ``finish_reasons``, ``response_id`` (the upstream's) and,
        when the span captures content, ``texts`` (one per choice) go to the attempt's span."""
        if self._attempt_started is not None:
            self._span.answered(usage, finish_reasons, response_id)
            if texts is not None:
                self._span.generated(texts)
        self.end_attempt(Outcome.SUCCESS)
        self._metrics.tokens_used(self.model, self._request.endpoint, usage)
        if tool_calls:
            self._metrics.tool_calls_returned(self.model, tool_calls)
        price = self._prices.get(self.model)
        cost = price.cost(usage) if price is not None else 0.0
        self._metrics.client_tokens_used(self._client, self.model, usage, cost)
        self._summary.prompt_tokens = usage.prompt_tokens
        self._summary.completion_tokens = usage.completion_tokens
        # A chunk may carry several tokens: the upstream's count is the true one.
        self._finish(Outcome.SUCCESS, max(self.tokens, usage.completion_tokens))

    def fail(self, exc: BaseException) -> None:
        # A stream cut off by the drain is cancelled too: the gateway ended it, not a fault.
        cancelled = isinstance(exc, asyncio.CancelledError | GeneratorExit | ShuttingDown)
        outcome = Outcome.CANCELLED if cancelled else Outcome.ERROR
        self.end_attempt(outcome, exc)
        self._finish(outcome, self.tokens)

    def _finish(self, outcome: Outcome, generated: int) -> None:
        request, metrics = self._request, self._metrics
        model, endpoint = self.model, request.endpoint
        metrics.request_finished(
            model, endpoint, request.stream, outcome, self.elapsed(), self._exemplar
        )
        metrics.client_finished(self._client, model, outcome)
        if self.tokens:
            metrics.first_token(
                model, endpoint, self._first_token_at - self._arrived, self._exemplar
            )
        if self.tokens and generated > 1:
            metrics.output_token_interval(
                model, endpoint, (self._last_token_at - self._first_token_at) / (generated - 1)
            )
        self._summary.outcome = outcome
