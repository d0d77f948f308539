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
    "no messages": (b'{"messages": []}', 422),
    "unknown role": (b'{"messages": [{"role": "robot", "content": "x"}]}', 422),
    "n above the limit": (b'{"messages": [{"role": "user", "content": "x"}], "n": 129}', 422),
    "a lone surrogate in content": (b'{"messages": [{"role": "user", "content": "\\ud800"}]}', 422),
    "a lone surrogate in a text part": (
        b'{"messages": [{"role": "user", "content": [{"type": "text", "text": "a\\udfff"}]}]}',
        422,
    ),
    "a lone surrogate in stop": (
        b'{"messages": [{"role": "user", "content": "x"}], "stop": ["\\ud800"]}',
        422,
    ),
    "a tool of the wrong type": (
        b'{"messages": [{"role": "user", "content": "x"}],'
        b' "tools": [{"type": "retrieval", "function": {"name": "f"}}]}',
        422,
    ),
    "a tool message without tool_call_id": (
        b'{"messages": [{"role": "tool", "content": "42"}]}',
        422,
    ),
    "an unknown response_format": (
        b'{"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "yaml"}}',
        422,
    ),
    "an audio content part": (
        b'{"messages": [{"role": "user", "content": [{"type": "input_audio"}]}]}',
        422,
    ),
    "a known field of the wrong type, beside unknown ones": (
        b'{"messages": [{"role": "user", "content": "x"}], "top_k": 5, "logprobs": [1]}',
        422,
    ),
}
# Malformed bodies are a 422, as on the chat door; what OpenAI's schema allows and the
# gateway cannot serve is a 400 (test_completions.py has every such refusal).
COMPLETIONS_CASES = {
    "no prompt": (b"{}", 422, "invalid_body"),
    "a prompt of the wrong type": (b'{"prompt": 12}', 422, "invalid_body"),
    "logprobs above OpenAI's 5": (b'{"prompt": "x", "logprobs": 6}', 422, "invalid_body"),
    "a lone surrogate in a prompt": (b'{"prompt": ["x", "\\ud800"]}', 422, "invalid_body"),
    "token ids as the prompt": (b'{"prompt": [1, 2, 3]}', 400, "unsupported_feature"),
    "unknown field": (b'{"prompt": "x", "top_k": 5}', 400, "unsupported_feature"),
    "an embedding model": (b'{"prompt": "x", "model": "e5"}', 400, "wrong_model_kind"),
    "unknown model": (b'{"prompt": "x", "model": "gpt-4"}', 404, "model_not_found"),
}
EMBEDDINGS_CASES = {
    "no input": (b"{}", 422, "invalid_body"),
    "an empty text": (b'{"input": ""}', 422, "invalid_body"),
    "an unknown encoding": (b'{"input": "x", "encoding_format": "int8"}', 422, "invalid_body"),
    "zero dimensions": (b'{"input": "x", "dimensions": 0}', 422, "invalid_body"),
    "a chat model": (b'{"input": "x", "model": "mistral"}', 400, "wrong_model_kind"),
    "unknown model": (b'{"input": "x", "model": "text-embedding-3-small"}', 404, "model_not_found"),
    "input over the limit": (b'{"input": "' + b"a" * 10_001 + b'"}', 400, "prompt_too_long"),
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
def test_bad_chat_body_gets_a_clear_422(gateway: Gateway, case: str) -> None:
    body, status = CHAT_CASES[case]
    attempts = gateway.sample(
        "llm_gateway_upstream_request_duration_seconds_count", model=MODEL, outcome="error"
    )

    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        content=body,
        headers={"content-type": "application/json"},
    )

    assert_error(response, status, "invalid_body")
    assert (
        gateway.sample(
            "llm_gateway_upstream_request_duration_seconds_count", model=MODEL, outcome="error"
        )
        == attempts
    )


@pytest.mark.parametrize(
    ("path", "case", "body", "status", "code"),
    [
        *(("/v1/completions", case, *spec) for case, spec in COMPLETIONS_CASES.items()),
        *(("/v1/embeddings", case, *spec) for case, spec in EMBEDDINGS_CASES.items()),
    ],
)
def test_bad_completions_and_embeddings_bodies_get_a_clear_4xx(
    gateway: Gateway, path: str, case: str, body: bytes, status: int, code: str
) -> None:
    before = gateway.sample("llm_gateway_upstream_requests_in_flight", model="x")

    response = httpx.post(
        f"{gateway.url}{path}", content=body, headers={"content-type": "application/json"}
    )

    assert_error(response, status, code)
    assert gateway.sample("llm_gateway_upstream_requests_in_flight", model="x") == before


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/completions", "/v1/embeddings"])
def test_an_unknown_model_is_404_on_every_endpoint(gateway: Gateway, path: str) -> None:
    body = {
        "/v1/chat/completions": {"messages": [{"role": "user", "content": "x"}]},
        "/v1/completions": {"prompt": "x"},
        "/v1/embeddings": {"input": "x"},
    }[path]

    response = httpx.post(f"{gateway.url}{path}", json={**body, "model": "gpt-4o"})

    assert_error(response, 404, "model_not_found")
    assert response.json()["error"]["param"] == "model"


def test_an_unknown_model_id_is_404_when_retrieved(gateway: Gateway) -> None:
    assert_error(httpx.get(f"{gateway.url}/v1/models/gpt-4o"), 404, "model_not_found")


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
