"""The openai kind refuses a configuration it cannot honour before it sends anything."""

from __future__ import annotations

import pytest

from llm_gateway.settings import Settings
from llm_gateway.upstream.openai import OpenAIUpstream


def test_a_key_variable_that_is_not_set_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLM_GATEWAY_TEST_NO_SUCH_KEY", raising=False)
    settings = Settings(
        upstream_url="http://127.0.0.1:9",
        upstream_api="openai",
        upstream_api_key_env="LLM_GATEWAY_TEST_NO_SUCH_KEY",
    )

    with pytest.raises(ValueError, match="LLM_GATEWAY_TEST_NO_SUCH_KEY, which is not set"):
        OpenAIUpstream(settings)


def test_a_pool_mixing_v1_and_bare_urls_refuses_to_start() -> None:
    settings = Settings(
        upstream_url="http://vllm-0:8000,http://vllm-1:8000/v1", upstream_api="openai"
    )

    with pytest.raises(ValueError, match="all end in /v1, or none"):
        OpenAIUpstream(settings)
