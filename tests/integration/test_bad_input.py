"""Bad input gets a 4xx in the one error envelope, never a 500, and never reaches the upstream."""

from __future__ import annotations

from contextlib import contextmanager

import httpx
import pytest

from tests.helpers import MODEL, Gateway, start_gateway

GENERATE_CASES = {
    "malformed JSON": (b'{"prompt": ', 400, "invalid_json"),
    "no body": (b"", 422, "invalid_body"),
    "a list instead of an object": (b"[]", 422, "invalid_body"),
    "empty prompt": (b'{"prompt": ""}', 422, "invalid_body"),
    "prompt of the wrong type": (b'{"prompt": 12}', 422, "invalid_body"),
    "temperature out of range": (b'{"prompt": "x", "temperature": 5}', 422, "invalid_body"),
    "zero max_new_tokens": (b'{"prompt": "x", "max_new_tokens": 0}', 422, "invalid_body"),
    "unknown field": (b'{"prompt": "x", "prompts": "y"}', 422, "invalid_body"),
    "unknown model": (b'{"prompt": "x", "model": "gpt-4"}', 404, "model_not_found"),
    "prompt over the limit": (b'{"prompt": "' + b"a" * 10_001 + b'"}', 400, "prompt_too_long"),
}
CHAT_CASES = {
    "no messages": (b'{"messages": []}', 422, "invalid_body"),
    "unknown role": (b'{"messages": [{"role": "robot", "content": "x"}]}', 422, "invalid_body"),
    "n above one": (
        b'{"messages": [{"role": "user", "content": "x"}], "n": 2}',
        422,
        "invalid_body",
    ),
    "a lone surrogate in content": (
        b'{"messages": [{"role": "user", "content": "\\ud800"}]}',
        422,
        "invalid_body",
    ),
    "a lone surrogate in a text part": (
        b'{"messages": [{"role": "user", "content": [{"type": "text", "text": "a\\udfff"}]}]}',
        422,
        "invalid_body",
    ),
    "a lone surrogate in stop": (
        b'{"messages": [{"role": "user", "content": "x"}], "stop": ["\\ud800"]}',
        422,
        "invalid_body",
    ),
    "tools, unsupported": (
        b'{"messages": [{"role": "user", "content": "x"}], "tools": []}',
        422,
        "invalid_body",
    ),
}


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert error["type"] == "invalid_request_error"
    assert "x-request-id" in response.headers


@pytest.mark.parametrize("case", GENERATE_CASES)
def test_bad_generate_body_gets_a_clear_4xx(gateway: Gateway, case: str) -> None:
    body, status, code = GENERATE_CASES[case]
    before = gateway.sample("llm_gateway_upstream_requests_in_flight", model="x")

    response = httpx.post(
        f"{gateway.url}/generate", content=body, headers={"content-type": "application/json"}
    )

    assert_error(response, status, code)
    assert gateway.sample("llm_gateway_upstream_requests_in_flight", model="x") == before


@pytest.mark.parametrize("case", CHAT_CASES)
def test_bad_chat_body_gets_a_clear_4xx(gateway: Gateway, case: str) -> None:
    body, status, code = CHAT_CASES[case]
    attempts = gateway.sample(
        "llm_gateway_upstream_request_duration_seconds_count", model=MODEL, outcome="error"
    )

    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        content=body,
        headers={"content-type": "application/json"},
    )

    assert_error(response, status, code)
    assert (
        gateway.sample(
            "llm_gateway_upstream_request_duration_seconds_count", model=MODEL, outcome="error"
        )
        == attempts
    )


def test_validation_error_names_the_field(gateway: Gateway) -> None:
    response = httpx.post(f"{gateway.url}/generate", json={"prompt": "x", "top_p": 2})

    error = response.json()["error"]
    assert error["param"] == "top_p"
    assert "top_p" in error["message"]


def test_body_over_the_limit_is_413_by_content_length(gateway: Gateway) -> None:
    body = b'{"prompt": "' + b"a" * (gateway.settings.max_body_bytes + 1) + b'"}'

    response = httpx.post(
        f"{gateway.url}/generate", content=body, headers={"content-type": "application/json"}
    )

    assert_error(response, 413, "body_too_large")


def test_body_over_the_limit_is_413_when_chunked(gateway: Gateway) -> None:
    def chunks():  # no Content-Length: the gateway must count as it reads
        yield b'{"prompt": "'
        for _ in range(gateway.settings.max_body_bytes // 1024 + 1):
            yield b"a" * 1024
        yield b'"}'

    response = httpx.post(
        f"{gateway.url}/generate", content=chunks(), headers={"content-type": "application/json"}
    )

    assert_error(response, 413, "body_too_large")


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/no/such/path", 404, "not_found"),
        ("GET", "/generate", 405, "method_not_allowed"),
    ],
)
def test_unknown_routes_get_the_error_envelope(
    gateway: Gateway, method: str, path: str, status: int, code: str
) -> None:
    assert_error(httpx.request(method, f"{gateway.url}{path}"), status, code)


@pytest.mark.parametrize(
    "headers",
    [{"X-Simulator-Fault": "bogus"}, {"X-Simulator-Fault": "hang", "X-Simulator-Fault-Times": "0"}],
)
def test_a_bad_fault_header_is_a_422_when_the_upstream_is_the_simulator(
    gateway: Gateway, headers: dict[str, str]
) -> None:
    response = httpx.post(f"{gateway.url}/generate", json={"prompt": "x"}, headers=headers)

    assert_error(response, 422, "invalid_body")
    assert response.json()["error"]["param"].startswith("X-Simulator-Fault")


def test_a_fault_header_is_ignored_when_the_upstream_is_not_the_simulator(
    simulator_url: str,
) -> None:
    with contextmanager(start_gateway)(simulator_url, upstream_is_simulator=False) as endpoint:
        headers = {"X-Simulator-Fault": "bogus", "X-Simulator-Fault-Times": "x"}
        response = httpx.post(f"{endpoint.url}/generate", json={"prompt": "x"}, headers=headers)

        assert response.status_code == 200
