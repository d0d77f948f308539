"""The one way LLM metrics are recorded: a typed method per measurement.

Each method names what happened (an attempt started, a request finished, a request was
shed) and takes its label values as typed arguments, so ``mypy --strict`` checks every
call. ``labels()`` validates its values and takes a lock on every call; every label here
takes its values from a small fixed set, so the labelled children are kept, and the
children kept stay few.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry

from llm_gateway.core.buckets import StoreFailure, StoreOperation
from llm_gateway.core.types import Endpoint, FallbackReason, Outcome, TokenUsage
from llm_gateway.errors import AuthFailure, ErrorReason, RateLimit, ShedReason
from llm_gateway.metrics.definitions import LLM_METRICS
from llm_gateway.metrics.labels import EndpointOutcome


class _Children:
    """One metric's labelled children, kept by their label values."""

    __slots__ = ("_kept", "metric")

    def __init__(self, metric: Any) -> None:
        self.metric = metric
        self._kept: dict[tuple[str, ...], Any] = {}

    def __call__(self, *labels: str) -> Any:
        child = self._kept.get(labels)
        if child is None:
            child = self._kept[labels] = self.metric.labels(*labels)
        return child


class Recorder:
    """The LLM metrics on one registry (a fresh one in unit tests); None records nothing."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        family = {
            attribute: _Children(_NoMetric() if registry is None else spec.create(registry))
            for attribute, spec in LLM_METRICS.items()
        }
        # In the order they were registered, which is the exposition's.
        self.all = [children.metric for children in family.values()]
        self._requests = family["requests"]
        self._request_duration = family["request_duration"]
        self._upstream_duration = family["upstream_duration"]
        self._prompt_tokens = family["prompt_tokens"]
        self._completion_tokens = family["completion_tokens"]
        self._tokens_per_request = family["tokens_per_request"]
        self._estimated_tokens = family["estimated_tokens"]
        self._time_to_first_token = family["time_to_first_token"]
        self._time_per_output_token = family["time_per_output_token"]
        self._tool_calls = family["tool_calls"]
        self._upstream_errors = family["upstream_errors"]
        self._upstream_in_flight = family["upstream_in_flight"]
        self._retries = family["retries"]
        self._fallbacks = family["fallbacks"]
        self._continuations = family["stream_continuations"]
        self._skipped_frames = family["skipped_frames"]
        self._circuit_open = family["circuit_open"]
        self._circuit_opened = family["circuit_opened"]
        self._queue_wait = family["queue_wait"].metric
        self._queued = family["queued"].metric
        self._shed = family["shed"]
        self._rate_limited = family["rate_limited"]
        self._auth_failures = family["auth_failures"]
        self._client_requests = family["client_requests"]
        self._client_tokens = family["client_tokens"]
        self._cost = family["cost"]
        self._overhead = family["overhead"]
        self._event_loop_lag = family["event_loop_lag"].metric
        self._endpoint_in_flight = family["endpoint_in_flight"]
        self._endpoint_requests = family["endpoint_requests"]
        self._endpoint_ttfb = family["endpoint_time_to_first_byte"]
        self._endpoint_addresses = family["endpoint_addresses"]
        self._endpoint_ejected = family["endpoint_ejected"]
        self._endpoint_ejections = family["endpoint_ejections"]
        self._store_errors = family["rate_limit_store_errors"]
        self._store_duration = family["rate_limit_store_duration"]
        self._build_info = family["build_info"]

    @classmethod
    def disabled(cls) -> Recorder:
        """A recorder that records nothing (``LLM_GATEWAY_METRICS_ENABLED=false``)."""
        return cls(None)

    def build_info(self, version: str, default_model: str, upstream_kind: str) -> None:
        self._build_info(version, default_model, upstream_kind).set(1)

    # One upstream attempt.

    def attempt_started(self, model: str) -> None:
        self._upstream_in_flight(model).inc()

    def attempt_ended(
        self, model: str, outcome: Outcome, seconds: float, exemplar: Mapping[str, str]
    ) -> None:
        self._upstream_in_flight(model).dec()
        self._upstream_duration(model, outcome).observe(seconds, exemplar)

    def upstream_error(self, model: str, reason: ErrorReason, status: int | None) -> None:
        self._upstream_errors(model, reason, str(status) if status else "").inc()

    def retry(self, model: str, reason: ErrorReason) -> None:
        self._retries(model, reason).inc()

    def fallback(self, model: str, reason: FallbackReason) -> None:
        self._fallbacks(model, reason).inc()

    def stream_continued(self, model: str, reason: ErrorReason) -> None:
        self._continuations(model, reason).inc()

    def frame_skipped(self, model: str) -> None:
        self._skipped_frames(model).inc()

    def circuit_changed(self, model: str, *, opened: bool) -> None:
        self._circuit_open(model).set(1 if opened else 0)
        openings = self._circuit_opened(model)  # made at 0 by a closed circuit too
        if opened:
            openings.inc()

    # One request, once it ends.

    def request_finished(
        self,
        model: str,
        endpoint: Endpoint,
        stream: bool,
        outcome: Outcome,
        seconds: float,
        exemplar: Mapping[str, str],
    ) -> None:
        streamed = "true" if stream else "false"
        self._request_duration(model, endpoint, streamed, outcome).observe(seconds, exemplar)
        self._requests(model, endpoint, streamed, outcome).inc()

    def tokens_used(self, model: str, endpoint: Endpoint, usage: TokenUsage) -> None:
        self._prompt_tokens(model, endpoint).inc(usage.prompt_tokens)
        self._tokens_per_request(model, endpoint, "prompt").observe(usage.prompt_tokens)
        if usage.prompt_estimated:
            self._estimated_tokens(model, "prompt").inc(usage.prompt_tokens)
        if endpoint is Endpoint.EMBEDDINGS:
            return  # embeddings generate no tokens
        if usage.completion_estimated:
            self._estimated_tokens(model, "completion").inc(usage.completion_tokens)
        self._completion_tokens(model, endpoint).inc(usage.completion_tokens)
        self._tokens_per_request(model, endpoint, "completion").observe(usage.completion_tokens)

    def tool_calls_returned(self, model: str, calls: int) -> None:
        self._tool_calls(model).inc(calls)

    def client_finished(self, client: str, model: str, outcome: Outcome) -> None:
        self._client_requests(client, model, outcome).inc()

    def client_tokens_used(
        self, client: str, model: str, usage: TokenUsage, cost_usd: float
    ) -> None:
        self._client_tokens(client, model, "prompt").inc(usage.prompt_tokens)
        self._client_tokens(client, model, "completion").inc(usage.completion_tokens)
        if cost_usd:
            self._cost(client, model).inc(cost_usd)

    def overhead(self, endpoint: Endpoint, stream: bool, seconds: float) -> None:
        self._overhead(endpoint, "true" if stream else "false").observe(seconds)

    def event_loop_lag(self, seconds: float) -> None:
        self._event_loop_lag.observe(seconds)

    def first_token(
        self, model: str, endpoint: Endpoint, seconds: float, exemplar: Mapping[str, str]
    ) -> None:
        self._time_to_first_token(model, endpoint).observe(seconds, exemplar)

    def output_token_interval(self, model: str, endpoint: Endpoint, seconds: float) -> None:
        self._time_per_output_token(model, endpoint).observe(seconds)

    # The gateway's own protections.

    def queue_entered(self) -> None:
        self._queued.inc()

    def queue_left(self, waited_seconds: float) -> None:
        self._queued.dec()
        self._queue_wait.observe(waited_seconds)

    def shed(self, reason: ShedReason) -> None:
        self._shed(reason).inc()

    def rate_limited(self, client: str, limit: RateLimit) -> None:
        self._rate_limited(client, limit).inc()

    def auth_failure(self, reason: AuthFailure) -> None:
        self._auth_failures(reason).inc()

    # The upstream pool: each endpoint is a configured base URL, the `upstream_url` label,
    # of the upstream the routing table names, the `upstream` label.

    def endpoint_request_started(self, upstream: str, endpoint: str) -> None:
        self._endpoint_in_flight(upstream, endpoint).inc()

    def endpoint_request_ended(self, upstream: str, endpoint: str) -> None:
        self._endpoint_in_flight(upstream, endpoint).dec()

    def endpoint_answered(
        self, upstream: str, endpoint: str, outcome: EndpointOutcome, seconds: float
    ) -> None:
        self._endpoint_requests(upstream, endpoint, outcome).inc()
        self._endpoint_ttfb(upstream, endpoint).observe(seconds)

    def endpoint_addresses(
        self, upstream: str, endpoint: str, addresses: int, ejected: int
    ) -> None:
        self._endpoint_addresses(upstream, endpoint).set(addresses)
        self._endpoint_ejected(upstream, endpoint).set(ejected)

    def endpoint_ejected(self, upstream: str, endpoint: str) -> None:
        self._endpoint_ejections(upstream, endpoint).inc()

    # The rate-limit store (Redis).

    def rate_limit_store_round_trip(self, operation: StoreOperation, seconds: float) -> None:
        self._store_duration(operation).observe(seconds)

    def rate_limit_store_error(self, operation: StoreOperation, reason: StoreFailure) -> None:
        self._store_errors(operation, reason).inc()


class _NoMetric:
    """Stands for any metric, or any labelled child of one: every call does nothing."""

    def labels(self, *labels: str) -> _NoMetric:
        return self

    def inc(self, *args: Any) -> None:
        return None

    dec = set = observe = inc
