"""llama.cpp's server refusing a request, directly and through the gateway."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import MODEL, Gateway
from tests.llama.server import CONTEXT_TOKENS

pytestmark = pytest.mark.llama

# Byte-level noise: about a token a character, several times the server's context.
OVERSIZED = "qzx!" * CONTEXT_TOKENS


def test_a_prompt_beyond_the_context_is_the_servers_400_with_its_message_through_the_gateway(
    llama_url: str, llama_gateway: Gateway
) -> None:
    body = {"messages": [{"role": "user", "content": OVERSIZED}], "max_tokens": 4}
    errors = {"model": MODEL, "reason": "client_error", "status_code": "400"}
    before = llama_gateway.sample("llm_gateway_upstream_errors_total", **errors)

    direct = httpx.post(f"{llama_url}/v1/chat/completions", json={**body, "model": MODEL})
    through = httpx.post(f"{llama_gateway.url}/v1/chat/completions", json=body, timeout=30.0)

    assert direct.status_code == 400
    refusal = direct.json()["error"]
    assert refusal["code"] == "context_length_exceeded"
    assert f"maximum context length is {CONTEXT_TOKENS} tokens" in refusal["message"]
    assert through.status_code == 400
    error = through.json()["error"]
    assert error["code"] == "context_length_exceeded"  # the server's own code, relayed
    assert f"maximum context length is {CONTEXT_TOKENS} tokens" in error["message"]
    assert llama_gateway.sample("llm_gateway_upstream_errors_total", **errors) == before + 1
