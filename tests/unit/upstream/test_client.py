"""The upstream adapter sends only the token it was configured with."""

from __future__ import annotations

import pytest
from huggingface_hub import constants
from huggingface_hub.utils import build_hf_headers

from llm_gateway.settings import Settings
from llm_gateway.upstream.client import HuggingFaceUpstream


async def test_no_implicit_token_is_sent_once_the_upstream_started(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_host_token_not_for_the_gateway")
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_IMPLICIT_TOKEN", False)
    upstream = HuggingFaceUpstream(Settings(upstream_url="http://127.0.0.1:9", hf_token=None))
    assert "authorization" in build_hf_headers()  # huggingface_hub's own default

    await upstream.start()
    try:
        assert "authorization" not in build_hf_headers()
    finally:
        await upstream.close()
