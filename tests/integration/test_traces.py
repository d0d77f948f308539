"""Traces, as a collector gets them: the gateway exports over OTLP/HTTP to a receiver on
loopback (``tests/otlp.py``), in front of a simulator that records the headers it gets.

Each test sends its own ``traceparent`` and request id, then waits for its spans.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from llm_gateway.simulator.app import create_app as create_simulator_app
from llm_gateway.simulator.settings import SimulatorSettings
from tests.helpers import MODEL, NEMO, Gateway, sse_payloads, start_gateway, wait_for
from tests.otlp import ReceivedSpan, Receiver, run_receiver
from tests.servers import HeaderLog, run_server

ROOT = Path(__file__).resolve().parents[2]
HF_TOKEN = "hf_SECRETtokenTRACES0123456789"
API_KEY = "sk-SECRETtracesKEY-0123456789"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
SERVER, CLIENT = 2, 3  # the OTLP span kinds
ERROR = 2  # the OTLP status code
# A client's trace context, which an untraced gateway neither continues nor forwards.
CLIENT_CONTEXT = f"00-{'9' * 32}-{'1' * 16}-01"
ANSWERED = {"model": MODEL, "api": "chat_completions", "stream": "false", "outcome": "success"}
CHAT = {"messages": [{"role": "user", "content": "Hello"}], "max_tokens": 3}


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with run_receiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[str, HeaderLog]]:
    settings = SimulatorSettings(
        time_to_first_token_seconds=0.0, time_per_token_seconds=0.0, hang_seconds=5.0, seed=7
    )
    log = HeaderLog(create_simulator_app(settings))
    with run_server(log) as url:
        yield url, log


def otel_environment(receiver: Receiver, **more: str) -> dict[str, str]:
    return {
        # The base endpoint: the exporter adds /v1/traces.
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_SERVICE_NAME": "gateway-under-test",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=test",
        "OTEL_TRACES_SAMPLER": "parentbased_always_on",
        # Exported within milliseconds, so the tests wait on spans rather than sleep.
        "OTEL_BSP_SCHEDULE_DELAY": "20",
        **more,
    }


@pytest.fixture(scope="module")
def traced(receiver: Receiver, upstream: tuple[str, HeaderLog]) -> Iterator[Gateway]:
    yield from start_gateway(
        upstream[0],
        environment=otel_environment(receiver),
        upstream_api="huggingface",
        retry_attempts=3,
        retry_backoff_seconds=0.01,
        fallback_models=["nemo"],
        # The tests' faults (a failed-over request, five faulted ones) would open the
        # model's circuit for the tests after them, whose requests would go to the fallback.
        resilience={"circuit_failures": 1000},
        hf_token=HF_TOKEN,
        api_keys={"team": API_KEY},
    )


@pytest.fixture(scope="module")
def openai_traced(receiver: Receiver, upstream: tuple[str, HeaderLog]) -> Iterator[Gateway]:
    """The same upstream through the openai kind (OpenAI's own routes, the gateway's relay)."""
    yield from start_gateway(
        upstream[0],
        environment=otel_environment(receiver),
        upstream_api="openai",
        api_keys={"team": API_KEY},
    )


def traceparent(trace_id: str, parent: str = "00f067aa0ba902b7") -> dict[str, str]:
    return {"traceparent": f"00-{trace_id}-{parent}-01", "tracestate": "vendor=kept"}


def spans_of(receiver: Receiver, trace_id: str, count: int) -> list[ReceivedSpan]:
    wait_for(lambda: len(receiver.trace(trace_id)) >= count)
    return receiver.trace(trace_id)


def attempts(spans: list[ReceivedSpan]) -> list[ReceivedSpan]:
    found = [span for span in spans if span.kind == CLIENT]
    return sorted(found, key=lambda span: span.attributes["llm_gateway.attempt"])


@pytest.mark.parametrize(
    ("kind", "trace_id"),
    [
        ("huggingface", "4bf92f3577b34da6a3ce929d0e0e4736"),
        ("openai", "4bf92f3577b34da6a3ce929d0e0e4737"),
    ],
)
def test_a_request_continues_the_clients_trace_and_sends_its_attempt_upstream(
    kind: str,
    trace_id: str,
    receiver: Receiver,
    upstream: tuple[str, HeaderLog],
    caplog: pytest.LogCaptureFixture,
    request: pytest.FixtureRequest,
) -> None:
    traced: Gateway = request.getfixturevalue(
        "traced" if kind == "huggingface" else "openai_traced"
    )
    caplog.set_level(logging.INFO, logger="llm_gateway.access")
    request_id = f"traced-chat-{kind}"
    body = {**CHAT, "temperature": 0.5, "top_p": 0.9}
    before = traced.sample("llm_gateway_requests_total", **ANSWERED)

    headers = {**AUTH, **traceparent(trace_id), "X-Request-Id": request_id}
    response = httpx.post(f"{traced.url}/v1/chat/completions", json=body, headers=headers)

    assert response.status_code == 200
    answer = response.json()
    spans = spans_of(receiver, trace_id, 2)
    [server] = [span for span in spans if span.kind == SERVER]
    [client] = attempts(spans)
    assert server.parent_span_id == "00f067aa0ba902b7"
    assert server.name == "POST /v1/chat/completions"
    assert server.attributes["http.response.status_code"] == 200
    assert server.attributes["llm_gateway.request_id"] == request_id
    assert server.resource["service.name"] == "gateway-under-test"
    assert server.resource["deployment.environment.name"] == "test"
    assert client.parent_span_id == server.span_id
    assert client.name == f"chat {MODEL}"
    assert client.attributes == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": kind,
        "gen_ai.request.model": MODEL,
        "gen_ai.response.model": MODEL,
        "gen_ai.request.max_tokens": 3,
        "gen_ai.request.temperature": 0.5,
        "gen_ai.request.top_p": 0.9,
        "gen_ai.usage.input_tokens": answer["usage"]["prompt_tokens"],
        "gen_ai.usage.output_tokens": answer["usage"]["completion_tokens"],
        "gen_ai.response.finish_reasons": [answer["choices"][0]["finish_reason"]],
        "gen_ai.response.id": client.attributes["gen_ai.response.id"],
        "server.address": "127.0.0.1",
        "server.port": int(upstream[0].rsplit(":", 1)[1]),
        "llm_gateway.attempt": 1,
        "llm_gateway.fallback": False,
    }
    assert client.attributes["gen_ai.response.id"]
    # The attempt's context went upstream: same trace, the attempt span as parent.
    [sent] = upstream[1].headers[request_id]
    assert sent["traceparent"] == f"00-{trace_id}-{client.span_id}-01"
    assert sent["tracestate"] == "vendor=kept"
    lines = [r for r in caplog.records if r.name == "llm_gateway.access"]
    [line] = [r for r in lines if r.fields["request_id"] == request_id]  # type: ignore[attr-defined]
    assert line.fields["trace_id"] == trace_id  # type: ignore[attr-defined]
    after = traced.sample("llm_gateway_requests_total", **ANSWERED)
    assert after == before + 1


def test_a_responses_api_request_is_traced_as_a_chat(traced: Gateway, receiver: Receiver) -> None:
    trace_id = "abf92f3577b34da6a3ce929d0e0e4736"
    labels = {"model": MODEL, "api": "responses", "stream": "false", "outcome": "success"}
    before = traced.sample("llm_gateway_requests_total", **labels)

    response = httpx.post(
        f"{traced.url}/v1/responses",
        json={"input": "Hello", "max_output_tokens": 3},
        headers={**AUTH, **traceparent(trace_id)},
    )

    assert response.status_code == 200
    assert response.json()["status"] == "incomplete"  # cut at max_output_tokens
    spans = spans_of(receiver, trace_id, 2)
    [server] = [span for span in spans if span.kind == SERVER]
    [client] = attempts(spans)
    assert server.name == "POST /v1/responses"
    assert client.parent_span_id == server.span_id
    assert client.name == f"chat {MODEL}"
    assert client.attributes["gen_ai.operation.name"] == "chat"
    assert client.attributes["gen_ai.request.max_tokens"] == 3
    assert traced.sample("llm_gateway_requests_total", **labels) == before + 1


def test_a_retried_and_failed_over_request_shows_each_attempt_as_its_own_span(
    traced: Gateway, receiver: Receiver, upstream: tuple[str, HeaderLog]
) -> None:
    trace_id = "5bf92f3577b34da6a3ce929d0e0e4736"
    fallbacks = traced.sample("llm_gateway_fallbacks_total", model=NEMO, reason="error")
    headers = {
        **AUTH,
        **traceparent(trace_id),
        "X-Request-Id": "traced-failover-1",
        # Every attempt on the requested model fails; the fallback's first succeeds.
        "X-Simulator-Fault": "unavailable",
        "X-Simulator-Fault-Times": "3",
    }

    response = httpx.post(f"{traced.url}/v1/chat/completions", json=CHAT, headers=headers)

    assert response.status_code == 200
    assert response.json()["model"] == NEMO
    spans = attempts(spans_of(receiver, trace_id, 5))
    described = [
        (
            span.name,
            span.attributes["llm_gateway.attempt"],
            span.attributes["llm_gateway.fallback"],
            span.attributes.get("error.type"),
            span.status_code,
        )
        for span in spans
    ]
    failed = ("upstream_server_error", ERROR)  # a 503
    assert sorted(described) == sorted(
        [
            (f"chat {MODEL}", 1, False, *failed),
            (f"chat {MODEL}", 2, False, *failed),
            (f"chat {MODEL}", 3, False, *failed),
            (f"chat {NEMO}", 1, True, None, 0),
        ]
    )
    # Each attempt sent its own span as the parent.
    sent = [h["traceparent"] for h in upstream[1].headers["traced-failover-1"]]
    assert sorted(sent) == sorted(f"00-{trace_id}-{span.span_id}-01" for span in spans)
    assert traced.sample("llm_gateway_fallbacks_total", model=NEMO, reason="error") == fallbacks + 1


def test_a_stream_marks_its_first_token_and_the_exemplars_carry_its_trace_id(
    traced: Gateway, receiver: Receiver
) -> None:
    trace_id = "6bf92f3577b34da6a3ce929d0e0e4736"
    headers = {**AUTH, **traceparent(trace_id), "X-Request-Id": "traced-stream-1"}
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}

    response = httpx.post(f"{traced.url}/v1/chat/completions", json=body, headers=headers)

    assert response.status_code == 200
    usage = json.loads(sse_payloads(response.text)[-2])["usage"]
    [attempt] = attempts(spans_of(receiver, trace_id, 2))
    assert [name for name, _ in attempt.events] == ["first_token"]
    assert attempt.attributes["gen_ai.usage.output_tokens"] == usage["completion_tokens"]
    assert attempt.attributes["gen_ai.response.finish_reasons"] == ["length"]
    exposition = httpx.get(
        f"{traced.url}/metrics",
        headers={**AUTH, "Accept": "application/openmetrics-text; version=1.0.0"},
    ).text
    for metric in ("request_duration_seconds", "time_to_first_token_seconds"):
        exemplars = re.findall(
            rf"^llm_gateway_{metric}_bucket{{.*}} \S+ # {{(.*)}}", exposition, re.M
        )
        assert f'request_id="traced-stream-1",trace_id="{trace_id}"' in exemplars, metric


def test_refusals_show_on_the_request_span_and_content_only_when_asked_for(
    receiver: Receiver, upstream: tuple[str, HeaderLog]
) -> None:
    environment = otel_environment(
        receiver, OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="true"
    )
    trace_id = "7bf92f3577b34da6a3ce929d0e0e4736"
    headers = {**AUTH, **traceparent(trace_id)}
    streamed = {**CHAT, "stream": True}
    for gateway in start_gateway(
        upstream[0],
        environment=environment,
        api_keys={"team": API_KEY},
        rate_limit_requests_per_minute=2,
    ):
        url = f"{gateway.url}/v1/chat/completions"
        answered, stream, refused = (
            httpx.post(url, json=body, headers=headers) for body in (CHAT, streamed, CHAT)
        )
        assert [r.status_code for r in (answered, stream, refused)] == [200, 200, 429]
        assert refused.json()["error"]["code"] == "requests_per_minute_exceeded"
        limited = gateway.sample(
            "llm_gateway_rate_limited_requests_total", client="team", limit="requests"
        )
        assert limited == 1
    spans = spans_of(receiver, trace_id, 5)
    refusals = [span.events for span in spans if span.kind == SERVER and span.events]
    refusal = {"error.type": "requests_per_minute_exceeded", "llm_gateway.rate_limit": "requests"}
    assert refusals == [[("refused", refusal)]]
    frames = [json.loads(p) for p in sse_payloads(stream.text)[:-1]]
    texts = {
        answered.json()["choices"][0]["message"]["content"],
        "".join(f["choices"][0]["delta"].get("content") or "" for f in frames if f["choices"]),
    }
    contents = [
        dict(a.events)["gen_ai.client.inference.operation.details"] for a in attempts(spans)
    ]
    assert len(contents) == 2
    for content in contents:
        assert json.loads(content["gen_ai.input.messages"]) == [
            {"role": "user", "parts": [{"type": "text", "content": "Hello"}]}
        ]
    outputs = [json.loads(content["gen_ai.output.messages"]) for content in contents]
    assert {output["parts"][0]["content"] for [output] in outputs} == texts
    assert {(output["role"], output["finish_reason"]) for [output] in outputs} == {
        ("assistant", "length")
    }


def test_no_secret_and_no_prompt_is_ever_exported(traced: Gateway, receiver: Receiver) -> None:
    prompt = "a-private-prompt-never-exported"
    body = {"messages": [{"role": "user", "content": prompt}], "max_tokens": 2}
    trace_id = "8bf92f3577b34da6a3ce929d0e0e4736"
    with httpx.Client(base_url=traced.url, timeout=10) as client:
        # Faults the gateway answers at once (a hang or a 429 would be waited out, retried).
        for fault in ("none", "server_error", "unavailable", "drop", "malformed"):
            headers = {**AUTH, **traceparent(trace_id), "X-Simulator-Fault": fault}
            client.post("/v1/chat/completions", json=body, headers=headers)
        refused = client.post("/v1/chat/completions", json=body, headers=traceparent(trace_id))
    assert refused.status_code == 401
    wait_for(lambda: len([s for s in receiver.trace(trace_id) if s.kind == SERVER]) == 6)
    exported = receiver.exported()
    for secret in (HF_TOKEN, API_KEY, "SECRET", "Bearer", prompt):
        assert secret.encode() not in exported, secret


def raw_chat(request_id: str, *headers: str, last: bool = False) -> bytes:
    """A chat request as HTTP/1.1 bytes, for requests pipelined on one connection."""
    body = json.dumps(CHAT).encode()
    head = [
        "POST /v1/chat/completions HTTP/1.1",
        "Host: gateway",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        f"Authorization: {AUTH['Authorization']}",
        f"X-Request-Id: {request_id}",
        *headers,
        *(["Connection: close"] if last else []),
    ]
    return "\r\n".join(head).encode() + b"\r\n\r\n" + body


def server_span(receiver: Receiver, request_id: str) -> ReceivedSpan:
    """The SERVER span of the request with this id, once exported."""

    def found() -> list[ReceivedSpan]:
        with receiver.lock:
            return [
                span
                for span in receiver.spans
                if span.kind == SERVER and span.attributes["llm_gateway.request_id"] == request_id
            ]

    wait_for(lambda: len(found()) == 1)
    [span] = found()
    return span


def test_a_request_pipelined_behind_a_traced_one_starts_a_trace_of_its_own(
    traced: Gateway, receiver: Receiver
) -> None:
    # uvicorn starts a pipelined request's task from within the one before it (when that
    # one's answer is complete), so the second inherits the first's context: its span
    # must not join the first request's trace for it.
    trace_id = "cbf92f3577b34da6a3ce929d0e0e4736"
    traceparent_header = f"traceparent: 00-{trace_id}-00f067aa0ba902b7-01"
    before = traced.sample("llm_gateway_requests_total", **ANSWERED)
    url = urlsplit(traced.url)

    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(
            raw_chat("pipelined-traced", traceparent_header)
            + raw_chat("pipelined-untraced", last=True)
        )
        received = b""
        while chunk := sock.recv(65536):  # until the gateway closes, after the second
            received += chunk

    assert received.count(b"HTTP/1.1 200 OK") == 2
    assert received.count(b'"object":"chat.completion"') == 2
    first = server_span(receiver, "pipelined-traced")
    second = server_span(receiver, "pipelined-untraced")
    assert first.trace_id == trace_id
    assert second.trace_id != trace_id
    assert second.parent_span_id == ""
    [attempt] = [span for span in receiver.trace(second.trace_id) if span.kind == CLIENT]
    assert attempt.parent_span_id == second.span_id
    assert {span.span_id for span in receiver.trace(trace_id)} >= {first.span_id}
    assert second.span_id not in {span.parent_span_id for span in receiver.trace(trace_id)}
    assert traced.sample("llm_gateway_requests_total", **ANSWERED) == before + 2


def test_concurrent_requests_to_two_traced_gateways_keep_each_span_in_its_own_trace(
    traced: Gateway, openai_traced: Gateway, receiver: Receiver
) -> None:
    # Two gateways in one process (a provider each), four requests at a time, two in
    # three with a client's trace context: every span is in its own request's trace.
    gateways = {"huggingface": traced, "openai": openai_traced}
    sent = [
        (kind, f"own-trace-{number}", f"e{number:031x}" if number % 3 else None)
        for number, kind in enumerate(["huggingface", "openai"] * 6)
    ]
    before = {k: g.sample("llm_gateway_requests_total", **ANSWERED) for k, g in gateways.items()}

    def send(request: tuple[str, str, str | None]) -> httpx.Response:
        kind, request_id, trace_id = request
        headers = {**AUTH, "X-Request-Id": request_id}
        if trace_id is not None:
            headers.update(traceparent(trace_id))
        url = f"{gateways[kind].url}/v1/chat/completions"
        return httpx.post(url, json=CHAT, headers=headers, timeout=10)

    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(send, sent))

    assert [r.status_code for r in responses] == [200] * len(sent), [r.text for r in responses]
    assert {r.json()["object"] for r in responses} == {"chat.completion"}
    servers = [server_span(receiver, request_id) for _, request_id, _ in sent]
    assert len({server.trace_id for server in servers}) == len(sent)
    for (kind, _, trace_id), server in zip(sent, servers, strict=True):
        if trace_id is None:
            assert server.parent_span_id == ""
        else:
            assert (server.trace_id, server.parent_span_id) == (trace_id, "00f067aa0ba902b7")
        [attempt] = [span for span in spans_of(receiver, server.trace_id, 2) if span is not server]
        assert (attempt.kind, attempt.parent_span_id) == (CLIENT, server.span_id)
        assert attempt.attributes["gen_ai.provider.name"] == kind
    for kind, gateway in gateways.items():
        after = gateway.sample("llm_gateway_requests_total", **ANSWERED)
        assert after == before[kind] + len(sent) / 2


def test_traces_off_load_no_sdk_and_send_no_trace_context(
    upstream: tuple[str, HeaderLog],
) -> None:
    script = f"""
import sys, httpx
from llm_gateway.app import create_app
from llm_gateway.settings import Settings
from tests.servers import HeaderLog, run_server
settings = Settings(upstream_url={upstream[0]!r}, upstream_is_simulator=True)
app = create_app(settings)
with run_server(app) as url:
    headers = {{"X-Request-Id": "untraced-1", "traceparent": {CLIENT_CONTEXT!r}}}
    response = httpx.post(url + "/v1/chat/completions", json={CHAT!r}, headers=headers)
assert response.status_code == 200, response.text
print(*sorted(sys.modules))
"""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    loaded = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env=environment,
        cwd=ROOT,
    ).stdout.split()
    assert "llm_gateway.app" in loaded
    # FastAPI and redis import OpenTelemetry's API (and redis its metrics SDK) themselves.
    sdk = ("opentelemetry.sdk.trace", "opentelemetry.exporter", "opentelemetry.proto")
    assert not [m for m in loaded if m.startswith(sdk)]
    assert "llm_gateway.telemetry.setup" not in loaded
    [sent] = upstream[1].headers["untraced-1"]
    assert "traceparent" not in sent
