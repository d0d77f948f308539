"""The gateway's span encoder writes, byte for byte, what the SDK's OTLP encoder writes."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from llm_gateway.telemetry.export import EncodedSpan, OtlpSpanExporter, SpanEncoder

CLIENT_CONTEXT = {
    "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "tracestate": "vendor=kept,other=7",
}
# Every kind of value an attribute can hold, at its edges.
VALUES = {
    "text": "chat mistralai/Mistral-7B-Instruct-v0.3",
    "unicode": "é中🙂",
    "empty": "",
    "long": "x" * 300,
    "zero": 0,
    "negative": -3,
    "int64.max": (1 << 63) - 1,
    "int64.min": -(1 << 63),
    "varint.edge": 128,
    "true": True,
    "false": False,
    "float": 0.7,
    "negative.zero": -0.0,
    "strings": ["length", "stop"],
    "ints": [1, -2, 300],
    "floats": [0.5, 1e300],
    "booleans": [True, False],
    "empty.list": [],
    "bytes": b"\x00\xff",
    "mapping": {"role": "user", "parts": ["a", 1]},
    "none": None,
}


def finished_spans() -> list[ReadableSpan]:
    """Spans of two providers (two resources), three scopes, every kind and field."""
    exporter = InMemorySpanExporter()
    limits = SpanLimits(max_span_attributes=40, max_events=3, max_links=2)
    gateway = TracerProvider(
        resource=Resource({"service.name": "gw", "n": 3}, "https://opentelemetry.io/schemas/1"),
        span_limits=limits,
    )
    other = TracerProvider(resource=Resource({"service.name": "other"}))
    for provider in (gateway, other):
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = gateway.get_tracer("llm_gateway", "1.0", "https://opentelemetry.io/schemas/2")
    scoped = gateway.get_tracer("scoped", attributes={"scope.attribute": "a"})

    parent = TraceContextTextMapPropagator().extract(CLIENT_CONTEXT)
    server = tracer.start_span("POST /v1/chat/completions", parent, SpanKind.SERVER)
    inside = trace.set_span_in_context(server)
    for repeat in range(2):  # the encoder keeps the encoded form of repeated attributes
        client = tracer.start_span(f"chat {repeat}", inside, SpanKind.CLIENT, VALUES)
        client.add_event("first_token")
        client.add_event("queued", {"llm_gateway.queue.wait_seconds": 0.25, "n": 1})
        client.set_status(Status(StatusCode.ERROR, "upstream_timeout"))
        client.end()
    server.set_attribute("too.big", 1 << 64)  # the SDK logs it and leaves it out
    for number in range(4):  # past max_events: one dropped
        server.add_event(f"event {number}")
    server.set_status(Status(StatusCode.OK))
    server.end()

    local = scoped.start_span("local", kind=SpanKind.PRODUCER)
    links = [
        Link(trace.get_current_span(parent).get_span_context(), {"link.attribute": 1}),
        Link(local.get_span_context()),
        Link(client.get_span_context()),  # past max_links: dropped
    ]
    with scoped.start_as_current_span("linked", links=links, kind=SpanKind.CONSUMER) as linked:
        for number in range(45):  # past max_span_attributes: five dropped
            linked.set_attribute(f"attribute.{number}", number)
    local.end()
    other.get_tracer("other").start_span("").end()  # no name, no parent
    return list(exporter.get_finished_spans())


needs_the_encoder = pytest.mark.skipif(
    not OtlpSpanExporter().encodes,
    reason="an exporter before 1.4x sends through the SDK's encoding, which there "
    "predates fields the gateway's encoder writes (span flags, the scope's schema URL)",
)


@needs_the_encoder
def test_the_encoder_writes_the_sdks_bytes_for_every_field_and_value() -> None:
    spans = finished_spans()
    assert {span.kind for span in spans} == set(SpanKind)

    encoder = SpanEncoder()
    first = encoder.encode(spans)

    assert first == encode_spans(spans).SerializeToString()
    assert encoder.encode(spans) == first  # from the attributes kept, the same bytes


@needs_the_encoder
def test_spans_encoded_as_they_ended_make_the_same_request() -> None:
    spans = finished_spans()
    encoder = SpanEncoder()

    ended = [EncodedSpan(span, encoder.span(span)) for span in spans]

    assert encoder.encode(ended) == encode_spans(spans).SerializeToString()


@needs_the_encoder
def test_the_encoder_keeps_the_fields_it_encoded_within_a_bound() -> None:
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("llm_gateway")
    encoder = SpanEncoder()

    for batch in range(10):  # 5,000 request ids, each new
        for number in range(500):
            attributes = {"llm_gateway.request_id": f"r-{batch}-{number}", "http.method": "POST"}
            tracer.start_span("POST", attributes=attributes).end()
        spans = exporter.get_finished_spans()
        exporter.clear()
        assert encoder.encode(spans) == encode_spans(spans).SerializeToString()
        assert encoder.kept_fields <= 4096
