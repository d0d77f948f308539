"""Errors on the Messages API, as the real anthropic SDK sees them: Anthropic's envelope and
error types, the gateway's statuses (Retry-After kept), before and after a stream's first
byte, from the gateway itself and from faults of the simulator behind it."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import httpx
import pytest

from tests.helpers import MODEL, Gateway, start_gateway

HELLO = [{"role": "user", "content": "Hello"}]
KEY = "sk-anthropic-door"


@pytest.fixture
def client(gateway: Gateway) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=gateway.url, api_key="unused", max_retries=0) as sdk:
        yield sdk


@pytest.fixture(scope="module")
def keyed(simulator_url: str) -> Iterator[Gateway]:
    yield from start_gateway(simulator_url, api_keys={"claude-code": KEY})


def door(gateway: Gateway, metric: str, **labels: str) -> float:
    return gateway.sample(metric, model=MODEL, api="messages", **labels)


def test_a_missing_max_tokens_is_a_400_in_anthropic_envelope(gateway: Gateway) -> None:
    response = httpx.post(
        f"{gateway.url}/v1/messages", json={"model": "mistral", "messages": HELLO}
    )

    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in body["error"]["message"]
    assert body["request_id"] == response.headers["x-request-id"]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"content": [{"type": "document", "source": {"type": "text", "data": "x"}}]}, "document"),
        ({"content": "x", "citations": True}, "citations"),
    ],
)
def test_what_no_mistral_upstream_serves_is_a_400_naming_it(
    gateway: Gateway, body: dict[str, object], named: str
) -> None:
    message = {"role": "user", "content": body.pop("content")}
    sent = {"model": "mistral", "max_tokens": 3, "messages": [message], **body}

    response = httpx.post(f"{gateway.url}/v1/messages", json=sent)

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert named in response.json()["error"]["message"]


def test_an_unknown_model_is_a_not_found_error(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as raised:
        client.messages.create(model="claude-sonnet-4-5", max_tokens=3, messages=HELLO)  # type: ignore[arg-type]

    assert raised.value.status_code == 404
    assert raised.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    assert "claude-sonnet-4-5" in raised.value.message


@pytest.mark.parametrize(
    ("fault", "status", "kind", "exception"),
    [
        ("rate_limit", 429, "rate_limit_error", anthropic.RateLimitError),
        ("server_error", 502, "api_error", anthropic.InternalServerError),
        ("hang", 504, "timeout_error", anthropic.InternalServerError),
    ],
)
def test_an_upstream_fault_keeps_its_status_in_anthropic_envelope(
    gateway: Gateway,
    client: anthropic.Anthropic,
    fault: str,
    status: int,
    kind: str,
    exception: type[anthropic.APIStatusError],
) -> None:
    labels = {"stream": "false", "outcome": "error"}
    before = door(gateway, "llm_gateway_requests_total", **labels)

    with pytest.raises(exception) as raised:
        client.messages.create(
            model="mistral",
            max_tokens=3,
            messages=HELLO,
            extra_headers={"X-Simulator-Fault": fault},
        )

    assert raised.value.status_code == status
    assert raised.value.body["type"] == "error"  # type: ignore[index]
    assert raised.value.body["error"]["type"] == kind  # type: ignore[index]
    if fault == "rate_limit":
        assert raised.value.response.headers["retry-after"] == "1"
    assert door(gateway, "llm_gateway_requests_total", **labels) == before + 1


def test_a_stream_that_fails_midway_ends_with_an_error_event(
    gateway: Gateway, client: anthropic.Anthropic
) -> None:
    labels = {"stream": "true", "outcome": "error"}
    before = door(gateway, "llm_gateway_requests_total", **labels)
    kinds = []

    with (
        pytest.raises(anthropic.APIStatusError) as raised,
        client.messages.stream(
            model="mistral",
            max_tokens=64,
            messages=HELLO,
            extra_headers={"X-Simulator-Fault": "drop"},
        ) as stream,
    ):
        kinds.extend(event.type for event in stream)

    assert kinds[0] == "message_start" and "message_stop" not in kinds
    assert raised.value.body["error"]["type"] == "api_error"  # type: ignore[index]
    assert door(gateway, "llm_gateway_requests_total", **labels) == before + 1


def test_errors_outside_the_core_are_in_anthropic_envelope_on_its_door(gateway: Gateway) -> None:
    too_large = httpx.post(
        f"{gateway.url}/v1/messages", content=b"x" * (gateway.settings.max_body_bytes + 1)
    )
    no_such_path = httpx.post(f"{gateway.url}/v1/messages/batches", json={})
    not_json = httpx.post(f"{gateway.url}/v1/messages/count_tokens", content=b"{")
    chat = httpx.post(f"{gateway.url}/v1/chat/completions", json={"model": "mistral"})

    assert too_large.status_code == 413
    assert too_large.json()["error"]["type"] == "request_too_large"
    assert no_such_path.status_code == 404
    assert no_such_path.json()["error"]["type"] == "not_found_error"
    assert not_json.status_code == 400
    assert not_json.json()["error"]["type"] == "invalid_request_error"
    # The OpenAI doors keep their own envelope and statuses.
    assert chat.status_code == 422 and chat.json()["error"]["code"] == "invalid_body"


def test_an_api_key_is_taken_from_x_api_key(keyed: Gateway) -> None:
    failures = keyed.sample("llm_gateway_auth_failures_total", reason="invalid")
    requests = keyed.sample(
        "llm_gateway_client_requests_total", client="claude-code", model=MODEL, outcome="success"
    )
    good = anthropic.Anthropic(base_url=keyed.url, api_key=KEY, max_retries=0)
    bad = anthropic.Anthropic(base_url=keyed.url, api_key="sk-wrong", max_retries=0)

    message = good.messages.create(model="mistral", max_tokens=3, messages=HELLO)
    with pytest.raises(anthropic.AuthenticationError) as raised:
        bad.messages.create(model="mistral", max_tokens=3, messages=HELLO)

    assert message.content
    assert raised.value.status_code == 401
    assert raised.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
    assert keyed.sample("llm_gateway_auth_failures_total", reason="invalid") == failures + 1
    assert (
        keyed.sample(
            "llm_gateway_client_requests_total",
            client="claude-code",
            model=MODEL,
            outcome="success",
        )
        == requests + 1
    )
