"""Simulated latency as a client measures it, on a paced simulator."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from huggingface_hub import AsyncInferenceClient

from llm_gateway.simulator.app import create_app
from llm_gateway.simulator.settings import SimulatorSettings
from tests.servers import run_server

FIRST_TOKEN_SECONDS = 0.05
PER_TOKEN_SECONDS = 0.01
TOKENS = 5


@pytest.fixture(scope="module")
async def paced_client() -> AsyncIterator[AsyncInferenceClient]:
    settings = SimulatorSettings(
        time_to_first_token_seconds=FIRST_TOKEN_SECONDS,
        time_per_token_seconds=PER_TOKEN_SECONDS,
        jitter=0.0,
    )
    with run_server(create_app(settings)) as url:
        async with AsyncInferenceClient(base_url=url, timeout=5) as client:
            yield client


async def test_stream_waits_for_the_first_token_then_paces_the_rest(
    paced_client: AsyncInferenceClient,
) -> None:
    started = time.monotonic()
    stream = await paced_client.text_generation("Hi", max_new_tokens=TOKENS, stream=True)
    arrivals = [time.monotonic() - started async for _ in stream]

    assert len(arrivals) == TOKENS
    assert arrivals[0] >= FIRST_TOKEN_SECONDS
    assert arrivals[-1] - arrivals[0] >= (TOKENS - 1) * PER_TOKEN_SECONDS * 0.9


async def test_whole_answer_takes_as_long_as_the_stream(
    paced_client: AsyncInferenceClient,
) -> None:
    started = time.monotonic()
    await paced_client.chat_completion([{"role": "user", "content": "Hi"}], max_tokens=TOKENS)

    assert time.monotonic() - started >= FIRST_TOKEN_SECONDS + (TOKENS - 1) * PER_TOKEN_SECONDS
