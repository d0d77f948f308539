"""What each client library raises for each fault: the table in ``llm_gateway/faults.py``.

Each case records where the exception surfaces: from the ``call`` itself, or from
``iteration`` over a stream the call already returned.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import httpx2
import openai
import pytest
from huggingface_hub import AsyncInferenceClient
from huggingface_hub.errors import (
    BadRequestError,
    HfHubHTTPError,
    IncompleteGenerationError,
    InferenceTimeoutError,
    OverloadedError,
    UnknownError,
    ValidationError,
)

from llm_gateway.faults import DEFAULT_AFTER
from llm_gateway.simulator.app import create_app
from llm_gateway.simulator.settings import SimulatorSettings
from tests.helpers import HfClients
from tests.integration.simulator.sse import stream_error
from tests.servers import run_server

MESSAGES = [{"role": "user", "content": "Is everything fine?"}]


class Failure:
    def __init__(self, where: str, exc: Exception | None, items_before: int) -> None:
        self.where = where
        self.exc = exc
        self.items_before = items_before


async def outcome(start: Callable[[], Awaitable[Any]], *, stream: bool) -> Failure:
    """Where the call (and the iteration of a stream) raised, and what; ``None`` and
    ``"none"`` if nothing did."""
    try:
        result = await start()
    except Exception as exc:
        return Failure("call", exc, 0)
    if not stream:
        return Failure("none", None, 0)
    items = 0
    try:
        async for _ in result:
            items += 1
    except Exception as exc:
        return Failure("iteration", exc, items)
    return Failure("none", None, items)


async def fail(start: Callable[[], Awaitable[Any]], *, stream: bool) -> Failure:
    failure = await outcome(start, stream=stream)
    assert failure.exc is not None, f"{failure.items_before} items and no error"
    return failure


def hf_call(client: AsyncInferenceClient, api: str, stream: bool) -> Awaitable[Any]:
    if api == "chat":
        return client.chat_completion(MESSAGES, max_tokens=10, stream=stream)
    return client.text_generation("Is everything fine?", max_new_tokens=10, stream=stream)


HF_CASES = [
    # fault, api, what a whole answer raises (None: nothing), what a stream raises, where
    ("rate_limit", "chat", HfHubHTTPError, HfHubHTTPError, "call"),
    ("rate_limit", "text", OverloadedError, OverloadedError, "call"),
    ("server_error", "chat", HfHubHTTPError, HfHubHTTPError, "call"),
    ("server_error", "text", IncompleteGenerationError, IncompleteGenerationError, "call"),
    ("unavailable", "chat", HfHubHTTPError, HfHubHTTPError, "call"),
    ("unavailable", "text", UnknownError, UnknownError, "call"),
    ("hang", "chat", InferenceTimeoutError, InferenceTimeoutError, "call"),
    ("hang", "text", InferenceTimeoutError, InferenceTimeoutError, "call"),
    ("drop", "chat", httpx2.RemoteProtocolError, httpx2.RemoteProtocolError, "iteration"),
    ("drop", "text", httpx2.RemoteProtocolError, httpx2.RemoteProtocolError, "iteration"),
    ("malformed", "chat", json.JSONDecodeError, json.JSONDecodeError, "iteration"),
    ("malformed", "text", json.JSONDecodeError, json.JSONDecodeError, "iteration"),
    # A stream's headers come at once: its read times out while iterating, unwrapped.
    ("slow_first_token", "chat", InferenceTimeoutError, httpx2.ReadTimeout, "iteration"),
    ("slow_first_token", "text", InferenceTimeoutError, httpx2.ReadTimeout, "iteration"),
    ("stall", "chat", InferenceTimeoutError, httpx2.ReadTimeout, "iteration"),
    ("stall", "text", InferenceTimeoutError, httpx2.ReadTimeout, "iteration"),
    ("malformed_frame", "chat", None, json.JSONDecodeError, "iteration"),
    ("malformed_frame", "text", None, json.JSONDecodeError, "iteration"),
    ("no_done", "chat", None, None, "none"),
    ("context_length", "chat", BadRequestError, BadRequestError, "call"),
    ("context_length", "text", ValidationError, ValidationError, "call"),
    ("content_filter", "chat", BadRequestError, BadRequestError, "call"),
    ("reset", "chat", httpx2.RemoteProtocolError, httpx2.RemoteProtocolError, "call"),
    ("reset", "text", httpx2.RemoteProtocolError, httpx2.RemoteProtocolError, "call"),
]


@pytest.mark.parametrize(("fault", "api", "whole", "streamed", "stream_where"), HF_CASES)
async def test_huggingface_hub_raises_per_fault(
    hf_clients: HfClients,
    fault: str,
    api: str,
    whole: type | None,
    streamed: type | None,
    stream_where: str,
) -> None:
    client = hf_clients(fault)

    once = await outcome(lambda: hf_call(client, api, False), stream=False)
    streaming = await outcome(lambda: hf_call(client, api, True), stream=True)

    assert type(once.exc) is (type(None) if whole is None else whole)
    assert type(streaming.exc) is (type(None) if streamed is None else streamed)
    assert streaming.where == stream_where


async def test_huggingface_hub_chat_raises_bad_request_for_a_refused_prefill(
    hf_clients: HfClients,
) -> None:
    client = hf_clients("reject_prefill")
    messages = [*MESSAGES, {"role": "assistant", "content": "Yes", "prefix": True}]

    failure = await fail(lambda: client.chat_completion(messages, max_tokens=10), stream=False)

    assert type(failure.exc) is BadRequestError


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
    assert failure.items_before == DEFAULT_AFTER + (api == "chat")


# A stream's headers come at once: its read times out while iterating.
TIMEOUT_WHILE_READING = stream_error(openai.APITimeoutError, httpx.ReadTimeout)
OPENAI_CASES = [
    # fault, what a whole answer raises (None: nothing), what a stream raises, where
    ("rate_limit", openai.RateLimitError, openai.RateLimitError, "call"),
    ("server_error", openai.InternalServerError, openai.InternalServerError, "call"),
    ("unavailable", openai.InternalServerError, openai.InternalServerError, "call"),
    ("hang", openai.APITimeoutError, openai.APITimeoutError, "call"),
    ("drop", openai.APIConnectionError, openai.APIConnectionError, "iteration"),
    ("malformed", json.JSONDecodeError, json.JSONDecodeError, "iteration"),
    ("slow_first_token", openai.APITimeoutError, TIMEOUT_WHILE_READING, "iteration"),
    ("stall", openai.APITimeoutError, TIMEOUT_WHILE_READING, "iteration"),
    ("malformed_frame", None, json.JSONDecodeError, "iteration"),
    ("no_done", None, None, "none"),
    ("context_length", openai.BadRequestError, openai.BadRequestError, "call"),
    ("content_filter", openai.BadRequestError, openai.BadRequestError, "call"),
    ("reset", openai.APIConnectionError, openai.APIConnectionError, "call"),
]


@pytest.mark.parametrize(("fault", "whole", "streamed", "stream_where"), OPENAI_CASES)
async def test_openai_sdk_raises_per_fault(
    openai_client: openai.AsyncOpenAI,
    fault: str,
    whole: type | None,
    streamed: type | None,
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

    once = await outcome(lambda: create(False), stream=False)
    streaming = await outcome(lambda: create(True), stream=True)

    assert type(once.exc) is (type(None) if whole is None else whole)
    assert type(streaming.exc) is (type(None) if streamed is None else streamed)
    assert streaming.where == stream_where


async def test_rates_inject_faults_without_a_header() -> None:
    settings = SimulatorSettings(rate_limit_rate=1.0, time_to_first_token_seconds=0)
    with run_server(create_app(settings)) as url:
        async with AsyncInferenceClient(base_url=url) as client:
            failure = await fail(lambda: hf_call(client, "text", False), stream=False)

    assert type(failure.exc) is OverloadedError
