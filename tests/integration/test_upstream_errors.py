"""Every upstream fault, asked of the simulator by header, maps to an honest status and metric;
a bug of ours in reading an answer is a 500, never counted as the upstream's."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest

from llm_gateway.core.types import Completion, CompletionTask
from llm_gateway.logs import SERVER_ERROR_LOGGER
from llm_gateway.simulator.app import create_app as create_simulator_app
from llm_gateway.simulator.settings import SimulatorSettings
from llm_gateway.upstream.client import HuggingFaceUpstream
from llm_gateway.upstream.openai import OpenAIUpstream
from tests.helpers import (
    EMBEDDING_MODEL,
    KINDS,
    MODEL,
    Gateway,
    either_kind,
    sse_payloads,
    start_gateway,
)
from tests.servers import run_server


@pytest.fixture(params=KINDS)
def gateway(request: pytest.FixtureRequest, hf_gateway: Gateway, gateway: Gateway) -> Gateway:
    """Each test on both upstream kinds."""
    return either_kind(request, hf_gateway, gateway)


CHAT = {"messages": [{"role": "user", "content": "Hello"}], "max_tokens": 4}

# fault → (gateway status, error code, metric reason, upstream status label)
FAULTS = {
    "rate_limit": (429, "upstream_rate_limited", "rate_limited", "429"),
    "server_error": (502, "upstream_server_error", "server_error", "500"),
    "unavailable": (502, "upstream_server_error", "server_error", "503"),
    "hang": (504, "upstream_timeout", "timeout", ""),
    "drop": (502, "upstream_unreachable", "connection", ""),
    "malformed": (502, "upstream_bad_response", "bad_response", ""),
}


# Each endpoint's body, and the model its requests are labelled with.
ENDPOINTS = {
    "/generate": ({"prompt": "Hello", "max_new_tokens": 4}, MODEL),
    "/v1/chat/completions": (CHAT, MODEL),
    "/v1/completions": ({"prompt": "Hello", "max_tokens": 4}, MODEL),
    "/v1/embeddings": ({"input": ["Hello", "there"]}, EMBEDDING_MODEL),
    "/v1/responses": ({"input": "Hello", "max_output_tokens": 4}, MODEL),
}


def upstream_errors(gateway: Gateway, reason: str, status: str, model: str = MODEL) -> float:
    return gateway.sample(
        "llm_gateway_upstream_errors_total", model=model, reason=reason, status_code=status
    )


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("fault", FAULTS)
def test_upstream_fault_gives_documented_status_body_and_metric(
    gateway: Gateway, fault: str, path: str
) -> None:
    status, code, reason, upstream_status = FAULTS[fault]
    body, model = ENDPOINTS[path]
    before = upstream_errors(gateway, reason, upstream_status, model)

    response = httpx.post(f"{gateway.url}{path}", json=body, headers={"X-Simulator-Fault": fault})

    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    if fault == "rate_limit":
        assert response.headers["retry-after"] == "1"
    assert upstream_errors(gateway, reason, upstream_status, model) == before + 1
    assert gateway.sample("llm_gateway_upstream_requests_in_flight", model=model) == 0


def test_rate_limit_passes_retry_after_on(gateway: Gateway) -> None:
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions", json=CHAT, headers={"X-Simulator-Fault": "rate_limit"}
    )

    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert response.json()["error"]["type"] == "rate_limit_error"


@pytest.mark.parametrize("fault", ["rate_limit", "hang", "server_error"])
def test_stream_that_fails_before_its_first_token_gets_an_http_status(
    gateway: Gateway, fault: str
) -> None:
    status, code, *_ = FAULTS[fault]

    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={**CHAT, "stream": True},
        headers={"X-Simulator-Fault": fault},
    )

    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_stream_dropped_midway_ends_with_an_error_frame_and_done(gateway: Gateway) -> None:
    labels = {"model": MODEL, "api": "chat_completions", "stream": "true"}
    errors_before = gateway.sample("llm_gateway_requests_total", **labels, outcome="error")

    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={**CHAT, "max_tokens": 20, "stream": True},
        headers={"X-Simulator-Fault": "drop"},
    )

    assert response.status_code == 200
    payloads = sse_payloads(response.text)
    assert payloads[-1] == "[DONE]"
    assert json.loads(payloads[-2])["error"]["code"] == "upstream_unreachable"
    assert gateway.sample("llm_gateway_requests_total", **labels, outcome="error") == (
        errors_before + 1
    )


def test_unreachable_upstream_is_a_502(unreachable_gateway: Gateway) -> None:
    response = httpx.post(f"{unreachable_gateway.url}/generate", json={"prompt": "Hello"})

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_unreachable"
    assert (
        unreachable_gateway.sample(
            "llm_gateway_upstream_errors_total", model=MODEL, reason="connection", status_code=""
        )
        == 1
    )


def test_upstream_rejection_of_the_request_is_a_400_saying_why(gateway: Gateway) -> None:
    # The gateway caps no max_tokens of its own: the upstream refuses what its model cannot.
    response = httpx.post(
        f"{gateway.url}/generate", json={"prompt": "Hello", "max_new_tokens": 100_000}
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_request"  # the upstream's own code, relayed
    assert "4096" in error["message"]


def misread(answer: Completion) -> Completion:
    """A bug in reading an answer: one choice too far (an IndexError of ours)."""
    return replace(answer, choices=(answer.choices[len(answer.choices)],))


class MisreadingHuggingFace(HuggingFaceUpstream):
    """The real adapter with a bug in reading chat answers: the call to the simulator is
    real, then the reading misreads it."""

    async def complete(self, request: CompletionTask, model: str) -> Completion:
        return misread(await super().complete(request, model))


class MisreadingOpenAI(OpenAIUpstream):
    """The openai kind's adapter with the same bug."""

    async def complete(self, request: CompletionTask, model: str) -> Completion:
        return misread(await super().complete(request, model))


@pytest.fixture(scope="module", params=KINDS)
def misreading_gateway(request: pytest.FixtureRequest, simulator_url: str) -> Iterator[Gateway]:
    misreading = MisreadingOpenAI if request.param == "openai" else MisreadingHuggingFace
    yield from start_gateway(simulator_url, upstream=misreading, upstream_api=request.param)


def all_upstream_errors(gateway: Gateway) -> float:
    return sum(
        sample.value
        for metric in gateway.registry.collect()
        if metric.name == "llm_gateway_upstream_errors"
        for sample in metric.samples
        if sample.name.endswith("_total")
    )


def test_a_bug_in_reading_an_answer_is_a_500_logged_once_and_not_an_upstream_error(
    misreading_gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    labels = {"model": MODEL, "api": "chat_completions", "stream": "false"}
    failed = misreading_gateway.sample("llm_gateway_requests_total", **labels, outcome="error")
    server_records: list[logging.LogRecord] = []
    server_log = logging.getLogger(SERVER_ERROR_LOGGER)
    keep = logging.Handler()
    keep.emit = server_records.append  # type: ignore[method-assign]
    server_log.addHandler(keep)
    try:
        with caplog.at_level(logging.ERROR, logger="llm_gateway"):
            response = httpx.post(f"{misreading_gateway.url}/v1/chat/completions", json=CHAT)
    finally:
        server_log.removeHandler(keep)

    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert all_upstream_errors(misreading_gateway) == 0
    assert (
        misreading_gateway.sample("llm_gateway_requests_total", **labels, outcome="error")
        == failed + 1
    )
    tracebacks = [
        record
        for record in [*caplog.records, *server_records]
        if record.exc_info and isinstance(record.exc_info[1], IndexError)
    ]
    assert len(tracebacks) == 1
    assert response.headers["x-request-id"] in tracebacks[0].getMessage()


@pytest.fixture(scope="module")
def impatient_gateway() -> Iterator[Gateway]:
    """The openai kind with an upstream timeout shorter than the time between two tokens."""
    settings = SimulatorSettings(
        time_to_first_token_seconds=0.0, time_per_token_seconds=0.3, jitter=0.0, seed=7
    )
    with run_server(create_simulator_app(settings)) as url:
        yield from start_gateway(url, upstream_timeout_seconds=0.1)


def test_the_upstream_timeout_bounds_an_answer_and_a_streams_headers_not_its_tokens(
    impatient_gateway: Gateway,
) -> None:
    url = f"{impatient_gateway.url}/v1/chat/completions"
    body = {**CHAT, "max_tokens": 3}

    whole = httpx.post(url, json=body, timeout=10)
    streamed = httpx.post(url, json={**body, "stream": True}, timeout=10)
    hang = httpx.post(
        url, json={**body, "stream": True}, headers={"X-Simulator-Fault": "hang"}, timeout=10
    )

    # An answer read whole, or a stream's headers, wait the upstream timeout at most...
    assert whole.status_code == 504
    assert whole.json()["error"]["code"] == "upstream_timeout"
    assert hang.status_code == 504
    assert hang.json()["error"]["code"] == "upstream_timeout"
    # ...and a stream's tokens as long as its model's first-token and stall timeouts allow.
    assert streamed.status_code == 200
    payloads = sse_payloads(streamed.text)
    assert payloads[-1] == "[DONE]"
    assert not any('"error"' in payload for payload in payloads), payloads
