"""The gateway sends the upstream the token it was configured with, or none at all."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx2
import pytest
from huggingface_hub import constants

from llm_gateway.core.types import CompletionTask, Endpoint, Origin
from llm_gateway.settings import Settings
from llm_gateway.upstream.client import HuggingFaceUpstream
from llm_gateway.upstream.transport import AiohttpTransport
from tests.helpers import MODEL

REQUEST = CompletionTask(
    origin=Origin(f"token-test-{uuid.uuid4().hex}"),
    endpoint=Endpoint.GENERATE,
    model=MODEL,
    messages=[{"role": "user", "content": "Hello"}],
    max_tokens=2,
)


async def authorization_sent(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: Settings
) -> list[str | None]:
    """What Authorization the upstream got, with a token saved on the host."""
    (tmp_path / "token").write_text("hf_host_token_not_for_the_gateway")
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "token"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    sent: list[str | None] = []
    send = AiohttpTransport.handle_async_request

    async def spy(self: object, request: httpx2.Request) -> httpx2.Response:
        # Only this test's request: the class is patched for every transport in the
        # process, the shared gateways' (their requests and health checks) included.
        if request.headers.get("x-request-id") == REQUEST.request_id:
            sent.append(request.headers.get("authorization"))
        return await send(self, request)  # type: ignore[arg-type]

    monkeypatch.setattr(AiohttpTransport, "handle_async_request", spy)
    upstream = HuggingFaceUpstream(settings)
    await upstream.start()
    try:
        await upstream.complete(REQUEST, MODEL)
    finally:
        await upstream.close()
    return sent


async def test_no_token_configured_sends_no_token_even_with_one_saved_on_the_host(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, simulator_url: str
) -> None:
    settings = Settings(upstream_url=simulator_url, upstream_api="huggingface", hf_token=None)

    assert await authorization_sent(monkeypatch, tmp_path, settings) == [None]


async def test_a_configured_token_is_the_one_sent(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, simulator_url: str
) -> None:
    settings = Settings(
        upstream_url=simulator_url, upstream_api="huggingface", hf_token="hf_gateway_token"
    )

    sent = await authorization_sent(monkeypatch, tmp_path, settings)

    assert sent == ["Bearer hf_gateway_token"]
