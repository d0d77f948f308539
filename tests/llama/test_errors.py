"""llama.cpp's server refusing a request, or failing it, directly and through the gateway:
its message reaches the client, and the gateway counts an upstream error, on both kinds."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import MODEL, Gateway
from tests.llama.server import CONTEXT_TOKENS

pytestmark = pytest.mark.llama

# Byte-level noise: about a token a character, several times the server's context.
OVERSIZED = "qzx!" * CONTEXT_TOKENS


def test_a_prompt_beyond_the_context_is_the_servers_400_with_its_message_through_the_gateway(
    llama_url: str, either_gateway: Gateway
) -> None:
    body = {"messages": [{"role": "user", "content": OVERSIZED}], "max_tokens": 4}
    errors = {"model": MODEL, "reason": "client_error", "status_code": "400"}
    before = either_gateway.sample("llm_gateway_upstream_errors_total", **errors)

    direct = httpx.post(f"{llama_url}/v1/chat/completions", json={**body, "model": MODEL})
    through = httpx.post(f"{either_gateway.url}/v1/chat/completions", json=body, timeout=30.0)

    assert direct.status_code == 400
    refusal = direct.json()["error"]
    assert refusal["code"] == "context_length_exceeded"
    assert f"maximum context length is {CONTEXT_TOKENS} tokens" in refusal["message"]
    assert through.status_code == 400
    error = through.json()["error"]
    assert error["code"] == "context_length_exceeded"  # the server's own code, relayed
    assert f"maximum context length is {CONTEXT_TOKENS} tokens" in error["message"]
    assert either_gateway.sample("llm_gateway_upstream_errors_total", **errors) == before + 1


def test_a_servers_500_reaches_the_client_as_a_502_with_the_servers_message(
    llama_url: str, either_gateway: Gateway
) -> None:
    # llama-cpp-python fails a tool_choice naming none of the tools with a 500.
    tool = {"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}
    body = {
        "messages": [{"role": "user", "content": "hello"}],
        "max_tokens": 4,
        "tools": [tool],
        "tool_choice": {"type": "function", "function": {"name": "nowhere"}},
    }
    errors = {"model": MODEL, "reason": "server_error", "status_code": "500"}
    before = either_gateway.sample("llm_gateway_upstream_errors_total", **errors)

    direct = httpx.post(f"{llama_url}/v1/chat/completions", json={**body, "model": MODEL})
    through = httpx.post(f"{either_gateway.url}/v1/chat/completions", json=body, timeout=30.0)

    assert direct.status_code == 500
    message = direct.json()["error"]["message"]
    assert message == "Tool choice 'nowhere' not found in tools."
    assert through.status_code == 502
    error = through.json()["error"]
    assert error["code"] == "upstream_server_error"
    assert error["message"] == f"The upstream failed (HTTP 500): {message}"
    assert either_gateway.sample("llm_gateway_upstream_errors_total", **errors) == before + 1


def test_a_streamed_prompt_beyond_the_context_is_never_a_success(
    llama_url: str, either_gateway: Gateway
) -> None:
    body = {"messages": [{"role": "user", "content": OVERSIZED}], "max_tokens": 4, "stream": True}
    # No status to label: the server's 200 and its headers, then nothing.
    errors = {"model": MODEL, "reason": "server_error", "status_code": ""}
    outcomes = {"model": MODEL, "api": "chat_completions", "stream": "true"}
    before = either_gateway.sample("llm_gateway_upstream_errors_total", **errors)
    successes = either_gateway.sample("llm_gateway_requests_total", **outcomes, outcome="success")

    direct = httpx.post(f"{llama_url}/v1/chat/completions", json={**body, "model": MODEL})
    through = httpx.post(f"{either_gateway.url}/v1/chat/completions", json=body, timeout=30.0)

    assert direct.status_code == 200
    assert direct.headers["content-type"].startswith("text/event-stream")
    assert direct.text == ""
    # Before the first byte, so an honest status rather than an error frame.
    assert through.status_code == 502
    error = through.json()["error"]
    assert error["code"] == "upstream_stream_incomplete"
    assert "before it finished" in error["message"]
    assert either_gateway.sample("llm_gateway_upstream_errors_total", **errors) == before + 1
    assert (
        either_gateway.sample("llm_gateway_requests_total", **outcomes, outcome="success")
        == successes
    )
