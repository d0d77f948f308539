"""Stream-safe failover, one scenario per way an upstream fails (issue 21's table).

Each scenario streams a chat completion through the openai SDK (no retries of its own)
and asserts what the client reads (the whole answer, or the documented clean error),
what the upstream saw (the simulator's ``/simulator/requests/{request id}``), a bound on
the wall time and the metrics.

One simulator stands for every server. Two upstreams of the table point at it, so a
model and its fallback can be the same model id on two upstreams: the simulator writes
the same text for the same conversation, and a continued answer must then be exactly the
unbroken one. A fault is scoped to the first attempt of a request id
(``X-Simulator-Fault-Times: 1``) or to one model id (``model=``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml
from prometheus_client import CollectorRegistry

from llm_gateway.app import create_app
from llm_gateway.settings import Settings
from llm_gateway.simulator.app import create_app as create_simulator_app
from llm_gateway.simulator.settings import SimulatorSettings
from tests.helpers import MODEL, NEMO, Gateway
from tests.servers import run_server

SMALL = "mistralai/Mistral-Small-3.2-24B-Instruct-2506"
HELLO = [{"role": "user", "content": "Tell me about gateways."}]
TOKENS = 60
# Generous bounds: each is far below what the same failure cost without the policy
# (the 30 s upstream timeout, or a 20 s first token).
QUICK = 8.0

FAST = {
    "backoff_seconds": 0.01,
    "min_backoff_seconds": 0.01,
    "max_backoff_seconds": 2.0,
    "header_timeout_seconds": 1.0,
    "first_token_timeout_seconds": 1.5,
    "stall_timeout_seconds": 0.5,
    # Scenarios share the gateway: no circuit opens but where a scenario means it to.
    "circuit_failures": 1000,
}
CONTINUES = "continue_final_message"


def table(simulator: str) -> dict[str, Any]:
    upstream = {"kind": "openai", "urls": [simulator], "simulator": True}
    return {
        "upstreams": [{"name": "sim-a", **upstream}, {"name": "sim-b", **upstream}],
        "resilience": FAST,
        "models": [
            # Same id as its fallback: a continuation must give the unbroken answer.
            {"name": "twin", "upstream": "sim-a", "id": MODEL, "fallbacks": ["backup"]},
            {"name": "backup", "upstream": "sim-b", "id": MODEL, "prefill": CONTINUES},
            # Another id than its fallback: model-scoped faults hit it alone.
            {"name": "primary", "upstream": "sim-a", "id": NEMO, "fallbacks": ["backup"]},
            # No fallback: the same model continues, in Mistral's form.
            {"name": "solo", "upstream": "sim-a", "id": MODEL, "prefill": "prefix"},
            {
                "name": "small",
                "upstream": "sim-a",
                "id": SMALL,
                "context_window_fallbacks": ["large"],
            },
            {"name": "large", "upstream": "sim-b", "id": MODEL},
            # Its fallback refuses to continue (a fault the simulator plays on request).
            {"name": "strict", "upstream": "sim-a", "id": NEMO, "fallbacks": ["rejecting"]},
            {"name": "rejecting", "upstream": "sim-b", "id": SMALL, "prefill": CONTINUES},
            {
                "name": "flaky",
                "upstream": "sim-a",
                "id": NEMO,
                "fallbacks": ["backup"],
                "resilience": {"circuit_failures": 3, "circuit_cooldown_seconds": 0.5},
            },
        ],
    }


@pytest.fixture(scope="module")
def simulator() -> Iterator[str]:
    settings = SimulatorSettings(
        time_to_first_token_seconds=0.0, time_per_token_seconds=0.0, hang_seconds=30.0, seed=7
    )
    with run_server(create_simulator_app(settings)) as url:
        yield url


@pytest.fixture(scope="module")
def gateway(simulator: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    path: Path = tmp_path_factory.mktemp("failover") / "routing.yaml"
    path.write_text(yaml.safe_dump(table(simulator)))
    settings = Settings(config=path, upstream_timeout_seconds=30.0, retry_attempts=3)
    registry = CollectorRegistry()
    with run_server(create_app(settings, registry=registry)) as url:
        yield Gateway(url=url, registry=registry, settings=settings)


@pytest.fixture(scope="module")
def client(gateway: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="unused", max_retries=0)


class Answer:
    """A streamed answer as the client read it."""

    def __init__(self, chunks: list[Any], seconds: float) -> None:
        self.chunks = chunks
        self.seconds = seconds
        self.pieces = [
            choice.delta.content
            for chunk in chunks
            for choice in chunk.choices
            if choice.delta.content
        ]
        self.text = "".join(self.pieces)
        self.ids = {chunk.id for chunk in chunks}
        self.finish_reasons = [
            choice.finish_reason
            for chunk in chunks
            for choice in chunk.choices
            if choice.finish_reason is not None
        ]
        usages = [chunk.usage for chunk in chunks if chunk.usage is not None]
        self.usage = usages[-1] if usages else None
        self.usage_blocks = len(usages)


def stream(
    client: openai.OpenAI, model: str, fault: str | None = None, times: int | None = 1, **body: Any
) -> tuple[Answer, str]:
    """The streamed answer to a chat request asking ``fault`` of the simulator, and the
    request id (the simulator's record of what it saw is kept under it)."""
    request_id = f"failover-{uuid.uuid4().hex}"
    headers = {"X-Request-Id": request_id}
    if fault is not None:
        headers["X-Simulator-Fault"] = fault
        if times is not None:
            headers["X-Simulator-Fault-Times"] = str(times)
    started = time.monotonic()
    chunks = list(
        client.chat.completions.create(
            model=model,
            messages=HELLO,  # type: ignore[arg-type]
            max_tokens=body.pop("max_tokens", TOKENS),
            stream=True,
            stream_options={"include_usage": True},
            extra_headers=headers,
            **body,
        )
    )
    return Answer(chunks, time.monotonic() - started), request_id


def seen(simulator: str, request_id: str) -> list[dict[str, Any]]:
    """What the upstream saw of a request: one entry per attempt, in order."""
    response = httpx.get(f"{simulator}/simulator/requests/{request_id}")
    assert response.status_code == 200
    return list(response.json())


def unbroken(client: openai.OpenAI, model: str = "backup") -> Answer:
    """The answer the model gives the same conversation when nothing fails."""
    answer, _ = stream(client, model)
    assert answer.finish_reasons == ["length"]
    return answer


def test_a_500_once_is_retried_and_the_answer_is_whole(
    client: openai.OpenAI, gateway: Gateway, simulator: str
) -> None:
    retries = gateway.sample(
        "llm_gateway_upstream_retries_total", model="twin", reason="server_error"
    )

    answer, request_id = stream(client, "twin", "server_error")

    assert answer.text == unbroken(client).text
    assert answer.seconds < QUICK
    attempts = seen(simulator, request_id)
    assert [a["fault"] for a in attempts] == ["server_error", "none"]
    assert (
        gateway.sample("llm_gateway_upstream_retries_total", model="twin", reason="server_error")
        == retries + 1
    )


def test_a_route_that_never_answers_fails_over_after_the_header_timeout(
    client: openai.OpenAI, gateway: Gateway, simulator: str
) -> None:
    fallbacks = gateway.sample("llm_gateway_fallbacks_total", model="backup", reason="error")
    timeouts = gateway.sample(
        "llm_gateway_upstream_errors_total", model="primary", reason="timeout", status_code=""
    )

    answer, request_id = stream(client, "primary", f"hang; model={NEMO}", times=None)

    assert answer.text == unbroken(client).text
    assert answer.chunks[0].model == "backup"
    assert 1.0 <= answer.seconds < QUICK  # the header timeout, once: not retried
    assert [a["model"] for a in seen(simulator, request_id)] == [NEMO, MODEL]
    assert gateway.sample("llm_gateway_fallbacks_total", model="backup", reason="error") == (
        fallbacks + 1
    )
    assert (
        gateway.sample(
            "llm_gateway_upstream_errors_total", model="primary", reason="timeout", status_code=""
        )
        == timeouts + 1
    )


def test_a_first_token_later_than_the_deadline_fails_over(
    client: openai.OpenAI, simulator: str
) -> None:
    answer, request_id = stream(
        client, "primary", f"slow_first_token; seconds=20; model={NEMO}", times=None
    )

    assert answer.text == unbroken(client).text
    assert 1.5 <= answer.seconds < QUICK
    assert [a["model"] for a in seen(simulator, request_id)] == [NEMO, MODEL]


def test_a_stream_cut_after_40_of_60_tokens_is_continued_into_the_whole_answer(
    client: openai.OpenAI, gateway: Gateway, simulator: str
) -> None:
    continued = gateway.sample(
        "llm_gateway_stream_continuations_total", model="backup", reason="connection"
    )

    answer, request_id = stream(client, "twin", "drop; after=40")

    whole = unbroken(client)
    assert answer.text == whole.text
    assert len(answer.ids) == 1
    assert answer.finish_reasons == ["length"]
    assert answer.usage_blocks == 1
    assert answer.usage is not None and whole.usage is not None
    # The continuation's 20 tokens as counted upstream, and the cut attempt's 40, which
    # its upstream never reported: estimated, one per frame or four characters.
    sent = "".join(whole.pieces[:40])
    assert answer.usage.completion_tokens == 20 + max(40, -(-len(sent) // 4))
    # Both prompts: the continuation's holds the prefill.
    assert answer.usage.prompt_tokens > 2 * whole.usage.prompt_tokens
    attempts = seen(simulator, request_id)
    assert [(a["fault"], a["max_tokens"]) for a in attempts] == [("drop", TOKENS), ("none", 20)]
    # The continuation was asked to go on from the 40 tokens the client had.
    assert attempts[1]["prefill"] == len("".join(whole.pieces[:40]))
    assert (
        gateway.sample(
            "llm_gateway_stream_continuations_total", model="backup", reason="connection"
        )
        == continued + 1
    )


def test_a_stream_that_goes_silent_is_continued_after_the_stall_window(
    client: openai.OpenAI, gateway: Gateway, simulator: str
) -> None:
    continued = gateway.sample(
        "llm_gateway_stream_continuations_total", model="backup", reason="timeout"
    )

    answer, request_id = stream(client, "twin", "stall; after=20")

    assert answer.text == unbroken(client).text
    assert answer.finish_reasons == ["length"]
    assert 0.5 <= answer.seconds < QUICK
    assert [a["fault"] for a in seen(simulator, request_id)] == ["stall", "none"]
    assert (
        gateway.sample("llm_gateway_stream_continuations_total", model="backup", reason="timeout")
        == continued + 1
    )


def test_a_model_without_a_fallback_continues_its_own_stream(
    client: openai.OpenAI, simulator: str
) -> None:
    answer, request_id = stream(client, "solo", "drop; after=10")

    assert answer.text == unbroken(client).text
    assert [a["model"] for a in seen(simulator, request_id)] == [MODEL, MODEL]


def test_one_malformed_frame_is_skipped_and_the_answer_finishes(
    client: openai.OpenAI, gateway: Gateway, simulator: str
) -> None:
    skipped = gateway.sample("llm_gateway_stream_frames_skipped_total", model="twin")

    answer, request_id = stream(client, "twin", "malformed_frame; after=10")

    assert answer.text == unbroken(client).text
    assert len(seen(simulator, request_id)) == 1
    assert gateway.sample("llm_gateway_stream_frames_skipped_total", model="twin") == skipped + 1


def test_a_prompt_too_long_for_the_model_goes_to_its_larger_context_model(
    client: openai.OpenAI, gateway: Gateway, simulator: str
) -> None:
    handed = gateway.sample("llm_gateway_fallbacks_total", model="large", reason="context_window")

    answer, request_id = stream(client, "small", f"context_length; model={SMALL}", times=None)

    assert answer.text == unbroken(client).text
    assert [a["model"] for a in seen(simulator, request_id)] == [SMALL, MODEL]
    assert (
        gateway.sample("llm_gateway_fallbacks_total", model="large", reason="context_window")
        == handed + 1
    )


def test_a_content_policy_refusal_keeps_its_code_and_is_never_retried(
    client: openai.OpenAI, simulator: str
) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        stream(client, "primary", f"content_filter; model={NEMO}", times=None)

    error = refused.value.body
    assert isinstance(error, dict)
    assert error["code"] == "content_policy_violation"
    request_id = refused.value.response.headers["x-request-id"]
    assert [a["model"] for a in seen(simulator, request_id)] == [NEMO]


def test_a_429_is_retried_after_its_retry_after_or_the_backoff_without_one(
    client: openai.OpenAI, simulator: str
) -> None:
    waited, first = stream(client, "twin", "rate_limit")
    backed_off, second = stream(client, "twin", "rate_limit; retry_after=none")

    assert waited.text == backed_off.text == unbroken(client).text
    assert waited.seconds >= 1.0  # the simulator's Retry-After: 1
    assert backed_off.seconds < 1.0
    assert [a["fault"] for a in seen(simulator, first)] == ["rate_limit", "none"]
    assert [a["fault"] for a in seen(simulator, second)] == ["rate_limit", "none"]


def test_a_persistent_503_is_tried_by_the_policy_then_fails_over(
    client: openai.OpenAI, simulator: str
) -> None:
    answer, request_id = stream(client, "primary", f"unavailable; model={NEMO}", times=None)

    assert answer.text == unbroken(client).text
    assert answer.seconds < QUICK
    assert [a["model"] for a in seen(simulator, request_id)] == [NEMO, NEMO, NEMO, MODEL]


def test_a_reset_before_the_headers_is_retried(client: openai.OpenAI, simulator: str) -> None:
    answer, request_id = stream(client, "twin", "reset")

    assert answer.text == unbroken(client).text
    assert [a["fault"] for a in seen(simulator, request_id)] == ["reset", "none"]


def test_a_stream_ending_without_done_is_a_whole_answer(
    client: openai.OpenAI, simulator: str
) -> None:
    answer, request_id = stream(client, "twin", "no_done")

    assert answer.text == unbroken(client).text
    assert answer.finish_reasons == ["length"]
    assert len(seen(simulator, request_id)) == 1


def broken(client: openai.OpenAI, model: str, fault: str) -> tuple[list[str], openai.APIError, str]:
    """A stream that ends with an error frame: the text read before it, the error the SDK
    raised from it, and the request id."""
    request_id = f"failover-{uuid.uuid4().hex}"
    pieces: list[str] = []
    with pytest.raises(openai.APIError) as failed:
        for chunk in client.chat.completions.create(
            model=model,
            messages=HELLO,  # type: ignore[arg-type]
            max_tokens=TOKENS,
            stream=True,
            extra_headers={"X-Request-Id": request_id, "X-Simulator-Fault": fault},
        ):
            pieces.extend(choice.delta.content for choice in chunk.choices if choice.delta.content)
    return pieces, failed.value, request_id


def test_a_break_nothing_can_continue_ends_with_the_original_failure(
    client: openai.OpenAI, simulator: str
) -> None:
    pieces, error, request_id = broken(client, "large", "drop; after=5")

    assert "".join(pieces) == "".join(unbroken(client).pieces[:5])
    assert error.code == "upstream_unreachable"
    assert len(seen(simulator, request_id)) == 1


def test_a_fallback_refusing_the_prefill_leaves_the_client_the_original_failure(
    client: openai.OpenAI, gateway: Gateway, simulator: str
) -> None:
    continued = gateway.sample(
        "llm_gateway_stream_continuations_total", model="rejecting", reason="connection"
    )

    pieces, error, request_id = broken(
        client, "strict", f"drop; after=5; model={NEMO}, reject_prefill; model={SMALL}"
    )

    assert len(pieces) == 5
    assert error.code == "upstream_unreachable"  # the cut, never the refusal of the prefill
    attempts = seen(simulator, request_id)
    assert [(a["model"], a["fault"]) for a in attempts] == [
        (NEMO, "drop"),
        (SMALL, "reject_prefill"),
    ]
    assert attempts[1]["prefill"] > 0
    assert (
        gateway.sample(
            "llm_gateway_stream_continuations_total", model="rejecting", reason="connection"
        )
        == continued + 1
    )


def polled(probe: Callable[[], bool], what: str, seconds: float = 10.0) -> None:
    """Ask ``probe`` every 0.1 s until it holds, for ``seconds`` at most."""
    deadline = time.monotonic() + seconds
    while not probe():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_a_primary_down_opens_its_circuit_serves_from_the_fallback_then_returns(
    client: openai.OpenAI, gateway: Gateway, simulator: str
) -> None:
    opened = gateway.sample("llm_gateway_circuit_opened_total", model="flaky")
    skipped = gateway.sample("llm_gateway_fallbacks_total", model="backup", reason="circuit_open")
    down = f"unavailable; model={NEMO}; until={time.time() + 1.5}"

    first, first_id = stream(client, "flaky", down, times=None)
    second, second_id = stream(client, "flaky", down, times=None)

    # Three failures in a row, the policy's attempts: the circuit opens at once.
    assert [a["model"] for a in seen(simulator, first_id)] == [NEMO, NEMO, NEMO, MODEL]
    assert gateway.sample("llm_gateway_circuit_opened_total", model="flaky") == opened + 1
    assert gateway.sample("llm_gateway_circuit_open", model="flaky") == 1
    # The next request goes straight to the fallback.
    assert [a["model"] for a in seen(simulator, second_id)] == [MODEL]
    assert first.text == second.text == unbroken(client).text
    assert (
        gateway.sample("llm_gateway_fallbacks_total", model="backup", reason="circuit_open")
        == skipped + 1
    )

    def served_by_the_primary() -> bool:
        answer, request_id = stream(client, "flaky", down, times=None)
        assert answer.finish_reasons == ["length"]
        return [a["model"] for a in seen(simulator, request_id)] == [NEMO]

    # Once the primary is back and the cool-down over, a probe closes the circuit.
    polled(served_by_the_primary, "the primary to serve again")
    assert gateway.sample("llm_gateway_circuit_open", model="flaky") == 0


def test_a_flapping_primary_loses_no_request(
    client: openai.OpenAI, gateway: Gateway, simulator: str
) -> None:
    # Issue 21's 20 requests over 80 s, at a tenth of the scale: the primary fails 1 s in
    # every 2 (its circuit cools down for 0.5 s), a request every 0.4 s.
    opened = gateway.sample("llm_gateway_circuit_opened_total", model="flaky")
    flapping = f"unavailable; model={NEMO}; period=2"
    whole = unbroken(client).text
    served: list[str] = []
    started = time.monotonic()
    for number in range(20):
        answer, request_id = stream(client, "flaky", flapping, times=None)
        assert answer.text == whole
        served.append(seen(simulator, request_id)[-1]["model"])
        polled(lambda n=number: time.monotonic() - started >= 0.4 * (n + 1), "the next send")

    assert time.monotonic() - started < 20
    assert {NEMO, MODEL} <= set(served)
    assert gateway.sample("llm_gateway_circuit_opened_total", model="flaky") > opened
