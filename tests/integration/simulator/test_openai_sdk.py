"""The simulator through the openai SDK, which other gateway clients may use."""

from __future__ import annotations

import openai
import pytest

from llm_gateway.faults import FAULT_HEADER
from llm_gateway.simulator.settings import DEFAULT_MODELS
from llm_gateway.simulator.textmodel import count_tokens

MESSAGES = [{"role": "user", "content": [{"type": "text", "text": "Summarise the alerts."}]}]
MODEL = "mistralai/Mistral-7B-Instruct-v0.3"


async def test_chat_completion_parses_with_usage(openai_client: openai.AsyncOpenAI) -> None:
    completion = await openai_client.chat.completions.create(
        model=MODEL, messages=MESSAGES, max_tokens=9, seed=4
    )

    assert completion.model == MODEL
    message = completion.choices[0].message
    assert message.role == "assistant"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == count_tokens(message.content or "") == 9
    assert completion.usage.prompt_tokens == count_tokens("user: Summarise the alerts.")


async def test_stream_with_usage_ends_with_a_usage_chunk(openai_client: openai.AsyncOpenAI) -> None:
    stream = await openai_client.chat.completions.create(
        model=MODEL,
        messages=MESSAGES,
        max_completion_tokens=9,
        seed=4,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]

    contents = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == len(contents) == 9


async def test_models_lists_the_served_models(openai_client: openai.AsyncOpenAI) -> None:
    models = [model.id async for model in openai_client.models.list()]

    assert models == DEFAULT_MODELS


async def test_invalid_request_raises_bad_request(openai_client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="messages") as caught:
        await openai_client.chat.completions.create(model=MODEL, messages=[], max_tokens=1)

    assert caught.value.status_code == 400


async def test_legacy_completion_counts_its_tokens(openai_client: openai.AsyncOpenAI) -> None:
    completion = await openai_client.completions.create(
        model=MODEL, prompt="Tell me about metrics", max_tokens=6, logprobs=2
    )

    choice = completion.choices[0]
    assert choice.finish_reason in ("length", "stop")
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 4
    assert choice.logprobs is not None and choice.logprobs.tokens is not None
    assert completion.usage.completion_tokens == len(choice.logprobs.tokens)
    assert "".join(choice.logprobs.tokens) == choice.text


async def test_a_streamed_legacy_completion_ends_with_its_usage(
    openai_client: openai.AsyncOpenAI,
) -> None:
    stream = await openai_client.completions.create(
        model=MODEL,
        prompt="Hello",
        max_tokens=5,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]

    text = "".join(chunk.choices[0].text for chunk in chunks if chunk.choices)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 5
    assert text


async def test_embeddings_come_as_floats_or_base64_of_the_same_vector(
    openai_client: openai.AsyncOpenAI,
) -> None:
    floats = await openai_client.embeddings.create(
        model=MODEL, input=["Hello", "world"], dimensions=8, encoding_format="float"
    )
    # The SDK asks for base64 by default and decodes it.
    decoded = await openai_client.embeddings.create(
        model=MODEL, input=["Hello", "world"], dimensions=8
    )

    assert [len(item.embedding) for item in floats.data] == [8, 8]
    assert decoded.data[0].embedding == pytest.approx(floats.data[0].embedding, rel=1e-6)
    assert floats.usage.prompt_tokens == 2


async def test_a_fault_on_the_completions_route_is_an_openai_error(
    openai_client: openai.AsyncOpenAI,
) -> None:
    with pytest.raises(openai.RateLimitError):
        await openai_client.completions.create(
            model=MODEL, prompt="Hello", extra_headers={FAULT_HEADER: "rate_limit"}
        )
