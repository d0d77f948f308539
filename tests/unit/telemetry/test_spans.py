"""Attempt spans name the upstream of the route they went to, from the routing table."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from llm_gateway.core.types import CompletionTask, Endpoint, Origin, Outcome
from llm_gateway.telemetry.spans import OtelTracer, Upstream

MODEL_ID = "mistralai/Mistral-Small-3.2-24B-Instruct-2506"
FALLBACK_ID = "mistralai/Mistral-7B-Instruct-v0.3"


def test_each_attempt_span_names_its_own_upstream_and_the_model_id_sent_to_it() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = OtelTracer(
        provider.get_tracer("test"),
        {
            "vllm": Upstream("openai", "vllm-0", 8000),
            "hf": Upstream("huggingface", "router.huggingface.co", 443),
        },
        capture_content=False,
    )
    request = CompletionTask(origin=Origin("r1"), endpoint=Endpoint.CHAT_COMPLETIONS, model="m")

    for model, number, fallback, upstream in (
        (MODEL_ID, 1, False, "vllm"),
        (FALLBACK_ID, 1, True, "hf"),
    ):
        tracer.attempt(request, model, number, fallback, upstream).end(Outcome.SUCCESS, None)

    described = [
        (
            span.name,
            span.attributes["gen_ai.provider.name"],
            span.attributes["server.address"],
            span.attributes["server.port"],
            span.attributes["llm_gateway.fallback"],
        )
        for span in exporter.get_finished_spans()
        if span.attributes is not None
    ]
    assert described == [
        (f"chat {MODEL_ID}", "openai", "vllm-0", 8000, False),
        (f"chat {FALLBACK_ID}", "huggingface", "router.huggingface.co", 443, True),
    ]


def test_the_attempt_continuing_a_broken_stream_says_so() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = OtelTracer(
        provider.get_tracer("test"),
        {"vllm": Upstream("openai", "vllm-0", 8000)},
        capture_content=False,
    )
    request = CompletionTask(origin=Origin("r2"), endpoint=Endpoint.CHAT_COMPLETIONS, model="m")

    tracer.attempt(request, MODEL_ID, 1, False, "vllm").end(Outcome.ERROR, None)
    tracer.attempt(request, MODEL_ID, 1, False, "vllm", continuation=True).end(
        Outcome.SUCCESS, None
    )

    broken, continued = exporter.get_finished_spans()
    assert broken.attributes is not None and continued.attributes is not None
    assert "llm_gateway.continuation" not in broken.attributes
    assert continued.attributes["llm_gateway.continuation"] is True
