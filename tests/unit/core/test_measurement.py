"""One measurement per request: every outcome is recorded once, with a fresh registry."""

from __future__ import annotations

import asyncio
import time

import pytest
from prometheus_client import CollectorRegistry

from llm_gateway.core.measurement import Measurement, Summary
from llm_gateway.core.types import (
    CompletionTask,
    EmbeddingTask,
    Endpoint,
    Origin,
    Outcome,
    Price,
    TokenUsage,
)
from llm_gateway.errors import UpstreamRateLimited, UpstreamServerError
from llm_gateway.metrics.recorder import Recorder

MODEL = "mistralai/Mistral-7B-Instruct-v0.3"
FALLBACK = "mistralai/Mistral-Nemo-Instruct-2407"


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def measure(registry: CollectorRegistry, stream: bool = False) -> tuple[Measurement, Summary]:
    request = CompletionTask(
        origin=Origin("r1"), endpoint=Endpoint.GENERATE, model=MODEL, messages=[], stream=stream
    )
    log = Summary(arrived=time.perf_counter())
    measurement = Measurement(Recorder(registry), request, MODEL, log)
    measurement.attempt(MODEL)
    return measurement, log


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_success_counts_tokens_and_leaves_nothing_in_flight(registry: CollectorRegistry) -> None:
    measurement, log = measure(registry)
    assert value(registry, "llm_gateway_upstream_requests_in_flight", model=MODEL) == 1

    measurement.succeed(TokenUsage(prompt_tokens=11, completion_tokens=5))

    labels = {"model": MODEL, "api": "generate"}
    assert value(registry, "llm_gateway_prompt_tokens_total", **labels) == 11
    assert value(registry, "llm_gateway_completion_tokens_total", **labels) == 5
    assert value(registry, "llm_gateway_tokens_per_request_sum", **labels, type="prompt") == 11
    assert (
        value(registry, "llm_gateway_requests_total", **labels, stream="false", outcome="success")
        == 1
    )
    assert value(registry, "llm_gateway_upstream_requests_in_flight", model=MODEL) == 0
    assert (log.prompt_tokens, log.completion_tokens, log.outcome) == (11, 5, "success")


def test_upstream_error_is_counted_by_reason_and_status(registry: CollectorRegistry) -> None:
    measurement, log = measure(registry)

    measurement.fail(UpstreamRateLimited("slow down", retry_after=3.0))

    assert (
        value(
            registry,
            "llm_gateway_upstream_errors_total",
            model=MODEL,
            reason="rate_limited",
            status_code="429",
        )
        == 1
    )
    assert (
        value(
            registry,
            "llm_gateway_upstream_request_duration_seconds_count",
            model=MODEL,
            outcome="error",
        )
        == 1
    )
    assert log.error_code == "upstream_rate_limited"
    assert value(registry, "llm_gateway_upstream_requests_in_flight", model=MODEL) == 0


def test_cancelled_stream_records_its_first_token(registry: CollectorRegistry) -> None:
    measurement, _ = measure(registry, stream=True)
    measurement.token()
    measurement.token()

    measurement.fail(asyncio.CancelledError())

    labels = {"model": MODEL, "api": "generate"}
    assert (
        value(registry, "llm_gateway_requests_total", **labels, stream="true", outcome="cancelled")
        == 1
    )
    assert value(registry, "llm_gateway_time_to_first_token_seconds_count", **labels) == 1
    assert value(registry, "llm_gateway_time_per_output_token_seconds_count", **labels) == 1
    assert value(registry, "llm_gateway_upstream_errors_total", model=MODEL) is None


def test_a_failed_attempt_then_a_fallback_counts_the_request_once_under_the_fallback(
    registry: CollectorRegistry,
) -> None:
    measurement, log = measure(registry)
    measurement.end_attempt(
        Outcome.ERROR, UpstreamServerError("down", code="x", upstream_status=503)
    )
    measurement.attempt(FALLBACK)

    measurement.succeed(TokenUsage(prompt_tokens=1, completion_tokens=1))

    def requests(model: str, outcome: str) -> float | None:
        return value(
            registry,
            "llm_gateway_requests_total",
            model=model,
            api="generate",
            stream="false",
            outcome=outcome,
        )

    assert requests(FALLBACK, "success") == 1
    assert requests(MODEL, "success") is None
    assert requests(MODEL, "error") is None
    assert (
        value(
            registry,
            "llm_gateway_upstream_errors_total",
            model=MODEL,
            reason="server_error",
            status_code="503",
        )
        == 1
    )
    for model in (MODEL, FALLBACK):
        assert value(registry, "llm_gateway_upstream_requests_in_flight", model=model) == 0
    assert log.model == FALLBACK


def test_tool_calls_returned_are_counted_by_model(registry: CollectorRegistry) -> None:
    measurement, _ = measure(registry)

    measurement.succeed(TokenUsage(prompt_tokens=3, completion_tokens=9), tool_calls=2)

    assert value(registry, "llm_gateway_tool_calls_total", model=MODEL) == 2


def test_embeddings_count_prompt_tokens_and_generate_none(registry: CollectorRegistry) -> None:
    request = EmbeddingTask(origin=Origin("r2"), model=None, input=["a b", "c"])
    measurement = Measurement(
        Recorder(registry), request, MODEL, Summary(arrived=time.perf_counter())
    )
    measurement.attempt(MODEL)

    measurement.succeed(TokenUsage(request.prompt_tokens, 0))

    labels = {"model": MODEL, "api": "embeddings"}
    assert value(registry, "llm_gateway_prompt_tokens_total", **labels) == 3
    assert value(registry, "llm_gateway_completion_tokens_total", **labels) is None
    assert (
        value(registry, "llm_gateway_tokens_per_request_count", **labels, type="completion") is None
    )
    assert value(registry, "llm_gateway_tool_calls_total", model=MODEL) is None


def test_a_request_with_known_usage_adds_exactly_usage_times_price(
    registry: CollectorRegistry,
) -> None:
    request = CompletionTask(
        origin=Origin("r1", client="team-a"),
        endpoint=Endpoint.GENERATE,
        model=MODEL,
        messages=[],
    )
    prices = {MODEL: Price(prompt=0.25, completion=1.5), FALLBACK: Price(prompt=9, completion=9)}
    measurement = Measurement(
        Recorder(registry), request, MODEL, Summary(arrived=time.perf_counter()), prices
    )
    measurement.attempt(MODEL)

    measurement.succeed(TokenUsage(prompt_tokens=1200, completion_tokens=300))

    # 1200 x 0.25 + 300 x 1.5 USD per million tokens.
    cost = value(registry, "llm_gateway_cost_usd_total", client="team-a", model=MODEL)
    assert cost == pytest.approx((1200 * 0.25 + 300 * 1.5) / 1e6, rel=1e-12)
    assert value(registry, "llm_gateway_cost_usd_total", client="team-a", model=FALLBACK) is None
    tokens = {"client": "team-a", "model": MODEL}
    assert value(registry, "llm_gateway_client_tokens_total", **tokens, type="prompt") == 1200
    assert value(registry, "llm_gateway_client_tokens_total", **tokens, type="completion") == 300
    assert value(registry, "llm_gateway_client_requests_total", **tokens, outcome="success") == 1


def test_without_api_keys_usage_is_counted_for_the_anonymous_client_and_unpriced_costs_nothing(
    registry: CollectorRegistry,
) -> None:
    measurement, _ = measure(registry)
    measurement.succeed(TokenUsage(prompt_tokens=7, completion_tokens=3))
    labels = {"client": "anonymous", "model": MODEL}
    assert value(registry, "llm_gateway_client_requests_total", **labels, outcome="success") == 1
    assert value(registry, "llm_gateway_client_tokens_total", **labels, type="prompt") == 7
    assert value(registry, "llm_gateway_cost_usd_total", **labels) is None


def test_overhead_is_the_time_outside_upstream_attempts_recorded_when_ready(
    registry: CollectorRegistry,
) -> None:
    measurement, log = measure(registry)
    measurement.end_attempt(
        Outcome.ERROR, UpstreamServerError("boom", code="x", upstream_status=500)
    )
    measurement.attempt(MODEL)
    measurement.ready()
    measurement.succeed(TokenUsage(1, 1))

    labels = {"api": "generate", "stream": "false"}
    assert value(registry, "llm_gateway_overhead_seconds_count", **labels) == 1
    overhead = value(registry, "llm_gateway_overhead_seconds_sum", **labels)
    attempts = value(
        registry, "llm_gateway_upstream_request_duration_seconds_sum", model=MODEL, outcome="error"
    )
    assert overhead is not None and attempts is not None
    assert 0 <= overhead <= measurement.elapsed() - attempts
    assert log.overhead_ms == pytest.approx(overhead * 1000, abs=0.001)
