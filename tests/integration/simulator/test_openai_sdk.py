"""The simulator through the openai SDK, which other gateway clients may use."""

from __future__ import annotations

import openai
import pytest

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
