"""A stream gives the event loop a turn every CHUNKS_PER_YIELD chunks, even when its
upstream's chunks are always ready: what ends it from outside (the client leaving, the
deadline) gets to run."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry

from llm_gateway.core.failover import Opened
from llm_gateway.core.measurement import Measurement, Summary
from llm_gateway.core.relay import CHUNKS_PER_YIELD, Relay
from llm_gateway.core.retry import Policy
from llm_gateway.core.types import Chunk, CompletionTask, Endpoint, Origin
from llm_gateway.errors import DeadlineExceeded
from llm_gateway.metrics.recorder import Recorder

MODEL = "mistralai/Mistral-7B-Instruct-v0.3"
# Chunks past which a stream that never yields is taken not to.
NEVER = 100_000


async def flood() -> AsyncIterator[Chunk]:
    """An upstream whose next chunk is always there: iterating it never suspends."""
    while True:
        yield Chunk(text="x")


async def test_a_stream_whose_chunks_are_always_ready_lets_the_loop_run() -> None:
    request = CompletionTask(
        origin=Origin("r1"),
        endpoint=Endpoint.CHAT_COMPLETIONS,
        model=MODEL,
        messages=[],
        stream=True,
    )
    measurement = Measurement(
        Recorder(CollectorRegistry()), request, MODEL, Summary(arrived=time.perf_counter())
    )
    measurement.attempt(MODEL)
    loop = asyncio.get_running_loop()
    relay = Relay(
        Opened(first=Chunk(text="x"), chunks=flood(), policy=Policy(), prompt_chars=1),
        measurement,
        on_close=lambda relay, usage: None,
        deadline=loop.time() + 60,
        deadline_seconds=60,
    )
    # The stream's deadline, come at the loop's next turn: only a yield of the stream's
    # gives it one.
    loop.call_soon(relay.interrupt, DeadlineExceeded(60))
    relayed = 0
    with pytest.raises(DeadlineExceeded):
        async for _ in relay:
            relayed += 1
            if relayed == NEVER:
                pytest.fail(f"{NEVER} chunks relayed, and the loop never got a turn")
    assert relayed <= CHUNKS_PER_YIELD
