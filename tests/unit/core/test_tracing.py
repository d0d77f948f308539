"""The core's tracing seam: what a Measurement tells its Tracer, and the no-op default.

The tracer here is a recording implementation of the core's own ``Tracer`` protocol (the
seam the app fills with OpenTelemetry's, tested over OTLP in
``tests/integration/test_traces.py``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry

from llm_gateway.core.measurement import Measurement, Summary
from llm_gateway.core.tracing import NO_TRACER, upstream_headers
from llm_gateway.core.types import (
    CompletionTask,
    EmbeddingTask,
    Endpoint,
    Origin,
    Outcome,
    TokenUsage,
)
from llm_gateway.errors import GatewayError, RateLimited, UpstreamServerError
from llm_gateway.metrics.recorder import Recorder

MODEL = "mistralai/Mistral-7B-Instruct-v0.3"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


@dataclass
class Span:
    model: str
    number: int
    fallback: bool
    events: list[object] = field(default_factory=list)

    def headers(self) -> Mapping[str, str]:
        return {"traceparent": f"00-{TRACE_ID}-{self.number:016x}-01"}

    def first_token(self) -> None:
        self.events.append("first_token")

    def answered(
        self, usage: TokenUsage, finish_reasons: Sequence[str], response_id: str | None
    ) -> None:
        self.events.append((usage, list(finish_reasons), response_id))

    def end(self, outcome: Outcome, error: BaseException | None) -> None:
        self.events.append((outcome, type(error).__name__ if error else None))


@dataclass
class Tracer:
    spans: list[Span] = field(default_factory=list)
    events: list[object] = field(default_factory=list)

    def attempt(
        self,
        request: CompletionTask | EmbeddingTask,
        model: str,
        number: int,
        fallback: bool,
        upstream: str,
        continuation: bool = False,
    ) -> Span:
        self.spans.append(Span(model, number, fallback))
        return self.spans[-1]

    def trace_id(self) -> str | None:
        return TRACE_ID

    def queued(self, seconds: float) -> None:
        self.events.append(("queued", seconds))

    def refused(self, error: GatewayError) -> None:
        self.events.append(("refused", error.code))


def measured(tracer: Tracer, registry: CollectorRegistry) -> Measurement:
    request = CompletionTask(
        origin=Origin("r1"), endpoint=Endpoint.GENERATE, model=MODEL, stream=True
    )
    summary = Summary(arrived=time.perf_counter())
    return Measurement(Recorder(registry), request, MODEL, summary, tracer=tracer)


def test_each_attempt_is_a_span_whose_context_goes_upstream_and_exemplars_carry_the_trace() -> None:
    tracer, registry = Tracer(), CollectorRegistry()
    measurement = measured(tracer, registry)

    measurement.queued(0.25)
    measurement.attempt(MODEL, 1)
    assert upstream_headers() == {"traceparent": f"00-{TRACE_ID}-{1:016x}-01"}
    measurement.end_attempt(
        Outcome.ERROR, UpstreamServerError("down", code="x", upstream_status=503)
    )
    measurement.attempt(MODEL, 2)
    assert upstream_headers()["traceparent"].endswith(f"-{2:016x}-01")
    measurement.token()
    measurement.token()
    measurement.succeed(TokenUsage(6, 2), 0, ["stop"], "chatcmpl-1")

    assert tracer.events == [("queued", 0.25)]
    assert [(s.number, s.fallback, s.events) for s in tracer.spans] == [
        (1, False, [(Outcome.ERROR, "UpstreamServerError")]),
        (
            2,
            False,
            ["first_token", (TokenUsage(6, 2), ["stop"], "chatcmpl-1"), (Outcome.SUCCESS, None)],
        ),
    ]
    [metric] = [
        m for m in registry.collect() if m.name == "llm_gateway_time_to_first_token_seconds"
    ]
    exemplars = {s.exemplar.labels["trace_id"] for s in metric.samples if s.exemplar}
    assert exemplars == {TRACE_ID}


def test_a_refusal_is_told_to_the_tracer_and_no_span_is_opened() -> None:
    tracer = Tracer()
    measurement = measured(tracer, CollectorRegistry())

    measurement.reject(RateLimited("slow down", client="team", limit="requests", retry_after=1))

    assert tracer.events == [("refused", "requests_per_minute_exceeded")]
    assert tracer.spans == []


def test_the_default_tracer_opens_nothing_and_sends_no_headers() -> None:
    request = CompletionTask(origin=Origin("r2"), endpoint=Endpoint.GENERATE, model=MODEL)
    registry = CollectorRegistry()
    measurement = Measurement(Recorder(registry), request, MODEL, Summary(time.perf_counter()))

    measurement.attempt(MODEL)
    measurement.succeed(TokenUsage(1, 1))

    assert NO_TRACER.trace_id() is None
    assert upstream_headers() == {}
    [metric] = [m for m in registry.collect() if m.name == "llm_gateway_request_duration_seconds"]
    labels = [s.exemplar.labels for s in metric.samples if s.exemplar]
    assert labels == [{"request_id": "r2"}]
