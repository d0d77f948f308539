"""What each client library raises for each fault: the table in ``simulator/faults.py``.

Each case records where the exception surfaces: from the ``call`` itself, or from
``iteration`` over a stream the call already returned.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx2
import openai
import pytest
from huggingface_hub import AsyncInferenceClient
from huggingface_hub.errors import (
    HfHubHTTPError,
    IncompleteGenerationError,
    InferenceTimeoutError,
    OverloadedError,
    UnknownError,
)

from llm_gateway.simulator.app import create_app
from llm_gateway.simulator.responses import DROP_AFTER_TOKENS
from llm_gateway.simulator.settings import SimulatorSettings
from tests.helpers import HfClients
from tests.servers import run_server

MESSAGES = [{"role": "user", "content": "Is everything fine?"}]


class Failure:
    def __init__(self, where: str, exc: Exception, items_before: int) -> None:
        self.where = where
        self.exc = exc
        self.items_before = items_before


async def fail(start: Callable[[], Awaitable[Any]], *, stream: bool) -> Failure:
    try:
        result = await start()
    except Exception as exc:
        return Failure("call", exc, 0)
    if not stream:
        raise AssertionError(f"the call succeeded: {result!r}")
    items = 0
    try:
        async for _ in result:
            items += 1
    except Exception as exc:
        return Failure("iteration", exc, items)
    raise AssertionError(f"the stream ended cleanly after {items} items")


def hf_call(client: AsyncInferenceClient, api: str, stream: bool) -> Awaitable[Any]:
    if api == "chat":
        return client.chat_completion(MESSAGES, max_tokens=10, stream=stream)
    return client.text_generation("Is everything fine?", max_new_tokens=10, stream=stream)


HF_CASES = [
    # fault, api, exception type, where a stream raises it
    ("rate_limit", "chat", HfHubHTTPError, "call"),
    ("rate_limit", "text", OverloadedError, "call"),
    ("server_error", "chat", HfHubHTTPError, "call"),
    ("server_error", "text", IncompleteGenerationError, "call"),
    ("unavailable", "chat", HfHubHTTPError, "call"),
    ("unavailable", "text", UnknownError, "call"),
    ("hang", "chat", InferenceTimeoutError, "call"),
    ("hang", "text", InferenceTimeoutError, "call"),
    ("drop", "chat", httpx2.RemoteProtocolError, "iteration"),
    ("drop", "text", httpx2.RemoteProtocolError, "iteration"),
    ("malformed", "chat", json.JSONDecodeError, "iteration"),
    ("malformed", "text", json.JSONDecodeError, "iteration"),
]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize(("fault", "api", "expected", "stream_where"), HF_CASES)
async def test_huggingface_hub_raises_per_fault(
    hf_clients: HfClients, fault: str, api: str, expected: type, stream_where: str, stream: bool
) -> None:
    client = hf_clients(fault)

    failure = await fail(lambda: hf_call(client, api, stream), stream=stream)

    assert type(failure.exc) is expected
    assert failure.where == (stream_where if stream else "call")


@pytest.mark.parametrize(
    ("fault", "status", "retry_after"),
    [("rate_limit", 429, "1"), ("server_error", 500, None), ("unavailable", 503, "1")],
)
@pytest.mark.parametrize("api", ["chat", "text"])
async def test_huggingface_hub_errors_carry_the_response(
    hf_clients: HfClients, fault: str, status: int, retry_after: str | None, api: str
) -> None:
    client = hf_clients(fault)

    failure = await fail(lambda: hf_call(client, api, False), stream=False)

    # text_generation raises TGI-specific errors that are no HfHubHTTPError: the HTTP
    # error with the response is their __cause__.
    http_error = failure.exc if api == "chat" else failure.exc.__cause__
    assert isinstance(http_error, HfHubHTTPError)
    assert http_error.response.status_code == status
    assert http_error.response.headers.get("Retry-After") == retry_after


@pytest.mark.parametrize("api", ["chat", "text"])
async def test_dropped_stream_delivers_a_few_tokens_first(hf_clients: HfClients, api: str) -> None:
    client = hf_clients("drop")

    failure = await fail(lambda: hf_call(client, api, True), stream=True)

    # Chat streams open with a frame carrying only the assistant role.
    assert failure.items_before == DROP_AFTER_TOKENS + (api == "chat")


OPENAI_CASES = [
    # fault, exception type for a whole answer, for a stream, where a stream raises it
    ("rate_limit", openai.RateLimitError, openai.RateLimitError, "call"),
    ("server_error", openai.InternalServerError, openai.InternalServerError, "call"),
    ("unavailable", openai.InternalServerError, openai.InternalServerError, "call"),
    ("hang", openai.APITimeoutError, openai.APITimeoutError, "call"),
    ("drop", openai.APIConnectionError, openai.APIConnectionError, "iteration"),
    ("malformed", json.JSONDecodeError, json.JSONDecodeError, "iteration"),
]


@pytest.mark.parametrize(("fault", "whole", "streamed", "stream_where"), OPENAI_CASES)
async def test_openai_sdk_raises_per_fault(
    openai_client: openai.AsyncOpenAI,
    fault: str,
    whole: type,
    streamed: type,
    stream_where: str,
) -> None:
    def create(stream: bool) -> Awaitable[Any]:
        return openai_client.chat.completions.create(
            model="m",
            messages=MESSAGES,  # type: ignore[arg-type]
            max_tokens=10,
            stream=stream,
            extra_headers={"X-Simulator-Fault": fault},
        )

    once = await fail(lambda: create(False), stream=False)
    streaming = await fail(lambda: create(True), stream=True)

    assert type(once.exc) is whole
    assert type(streaming.exc) is streamed
    assert streaming.where == stream_where


async def test_rates_inject_faults_without_a_header() -> None:
    settings = SimulatorSettings(rate_limit_rate=1.0, time_to_first_token_seconds=0)
    with run_server(create_app(settings)) as url:
        async with AsyncInferenceClient(base_url=url) as client:
            failure = await fail(lambda: hf_call(client, "text", False), stream=False)

    assert type(failure.exc) is OverloadedError
