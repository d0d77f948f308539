"""Legacy completions (``POST /v1/completions``) in front of llama.cpp's server, through the
``openai`` kind, which sends them to the server's own route: the same text, greedy, and
the server's usage, or the gateway's estimate where the server reports none (streams).

The ``huggingface`` kind sends them to TGI's generate route instead, which this server
does not serve (issue 20): it is not tested here.
"""

from __future__ import annotations

from collections.abc import Callable

import openai
import pytest

from llm_gateway.core.types import estimate_tokens
from tests.helpers import MODEL, Gateway

pytestmark = pytest.mark.llama

PROMPT = "hello world, the weather in Paris is"
GREEDY = {"max_tokens": 12, "temperature": 0, "seed": 7}
OpenAISdk = Callable[[str], openai.OpenAI]
COMPLETIONS = {"model": MODEL, "api": "completions"}


def counted(gateway: Gateway) -> tuple[float, float, float]:
    """Prompt, completion and estimated tokens the gateway counted so far."""
    return (
        gateway.sample("llm_gateway_prompt_tokens_total", **COMPLETIONS),
        gateway.sample("llm_gateway_completion_tokens_total", **COMPLETIONS),
        sum(gateway.estimated_tokens(MODEL)),
    )


def test_a_completion_through_the_gateway_is_the_servers_with_its_usage(
    openai_sdk: OpenAISdk, llama_url: str, llama_openai_gateway: Gateway
) -> None:
    direct_sdk, gateway_sdk = openai_sdk(llama_url), openai_sdk(llama_openai_gateway.url)
    prompt, completion, estimated = counted(llama_openai_gateway)
    successes = {**COMPLETIONS, "stream": "false", "outcome": "success"}
    before = llama_openai_gateway.sample("llm_gateway_requests_total", **successes)

    direct = direct_sdk.completions.create(model=MODEL, prompt=PROMPT, **GREEDY)
    through = gateway_sdk.completions.create(model="mistral", prompt=PROMPT, **GREEDY)

    assert direct.choices[0].text
    assert through.choices[0].text == direct.choices[0].text
    assert through.choices[0].finish_reason == direct.choices[0].finish_reason
    assert through.usage == direct.usage is not None
    assert through.model == MODEL
    assert llama_openai_gateway.sample("llm_gateway_requests_total", **successes) == before + 1
    assert counted(llama_openai_gateway) == (
        prompt + direct.usage.prompt_tokens,
        completion + direct.usage.completion_tokens,
        estimated,  # the server's counts, no estimate
    )


def test_a_streamed_completion_has_the_servers_text_and_the_gateways_estimate(
    openai_sdk: OpenAISdk, llama_url: str, llama_openai_gateway: Gateway
) -> None:
    direct_sdk, gateway_sdk = openai_sdk(llama_url), openai_sdk(llama_openai_gateway.url)
    prompt, completion, estimated = counted(llama_openai_gateway)

    direct = list(direct_sdk.completions.create(model=MODEL, prompt=PROMPT, stream=True, **GREEDY))
    through = list(
        gateway_sdk.completions.create(
            model="mistral",
            prompt=PROMPT,
            stream=True,
            stream_options={"include_usage": True},
            **GREEDY,
        )
    )

    assert all(chunk.usage is None for chunk in direct)  # llama.cpp counts nothing here
    pieces = [c.choices[0].text for c in direct if c.choices and c.choices[0].text]
    text = "".join(c.choices[0].text for c in through if c.choices)
    assert text == "".join(pieces) != ""
    assert (
        text == direct_sdk.completions.create(model=MODEL, prompt=PROMPT, **GREEDY).choices[0].text
    )
    usage = through[-1].usage
    assert usage is not None
    # The README's rule: a token per four characters, and a text frame at least one.
    expected = (estimate_tokens(len(PROMPT)), max(len(pieces), estimate_tokens(len(text))))
    assert (usage.prompt_tokens, usage.completion_tokens) == expected
    assert counted(llama_openai_gateway) == (
        prompt + expected[0],
        completion + expected[1],
        estimated + sum(expected),
    )
