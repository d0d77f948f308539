"""An upstream that attacks the gateway: it can cost neither unbounded memory nor time."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import httpx
import psutil
import pytest

from tests.helpers import MODEL, Gateway, start_gateway, wait_for
from tests.hostile import HostileUpstream

CHAT = {"messages": [{"role": "user", "content": "Hello"}], "max_tokens": 3}
STREAM = {**CHAT, "stream": True}
TOKEN = "hf_hostileUpstreamTestToken0123456789abcd"
# Growth of this process's RSS (the gateway runs in it) a hostile answer may cause.
MAX_RSS_GROWTH_BYTES = 96 * 1024 * 1024
DEADLINE_SECONDS = 1.5
_ids = itertools.count()


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileUpstream]:
    with HostileUpstream().running() as upstream:
        yield upstream


@pytest.fixture(scope="module")
def exposed(hostile: HostileUpstream, monkeypatch_module: pytest.MonkeyPatch) -> Iterator[Gateway]:
    monkeypatch_module.setenv("HF_TOKEN", TOKEN)
    yield from start_gateway(
        hostile.url,
        upstream_is_simulator=False,
        upstream_timeout_seconds=5.0,
        upstream_max_body_bytes=1024 * 1024,
        upstream_max_line_bytes=64 * 1024,
        request_deadline_seconds=DEADLINE_SECONDS,
    )


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def asking(behaviour: str) -> dict[str, str]:
    """Headers that make the hostile upstream behave so for this request."""
    return {"X-Request-Id": f"{behaviour}-{next(_ids)}"}


def rss() -> int:
    return int(psutil.Process(os.getpid()).memory_info().rss)


def errors(gateway: Gateway, reason: str) -> float:
    return gateway.sample(
        "llm_gateway_upstream_errors_total", model=MODEL, reason=reason, status_code=""
    )


@pytest.mark.parametrize("behaviour", ["huge", "endless_chunked", "bomb"])
def test_an_oversized_upstream_body_is_a_502_with_memory_bounded(
    exposed: Gateway, hostile: HostileUpstream, behaviour: str
) -> None:
    before, counted = rss(), errors(exposed, "response_too_large")

    response = httpx.post(
        f"{exposed.url}/v1/chat/completions", json=CHAT, headers=asking(behaviour), timeout=30
    )

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_response_too_large"
    assert rss() - before < MAX_RSS_GROWTH_BYTES
    assert errors(exposed, "response_too_large") == counted + 1
    wait_for(lambda: hostile.open_connections == 0)


def test_an_endless_stream_line_is_a_502_with_memory_bounded(
    exposed: Gateway, hostile: HostileUpstream
) -> None:
    before = rss()

    response = httpx.post(
        f"{exposed.url}/v1/chat/completions",
        json=STREAM,
        headers=asking("endless_line"),
        timeout=30,
    )

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_response_too_large"
    assert rss() - before < MAX_RSS_GROWTH_BYTES
    wait_for(lambda: hostile.open_connections == 0)


def test_a_redirect_loop_is_an_upstream_error(exposed: Gateway) -> None:
    response = httpx.post(
        f"{exposed.url}/v1/chat/completions", json=CHAT, headers=asking("redirect_loop")
    )

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_bad_response"


def test_a_non_ascii_retry_after_is_a_429_without_one(exposed: Gateway) -> None:
    response = httpx.post(
        f"{exposed.url}/v1/chat/completions", json=CHAT, headers=asking("non_ascii_retry_after")
    )

    assert response.status_code == 429
    assert response.json()["error"]["code"] == "upstream_rate_limited"
    assert "retry-after" not in response.headers


def test_an_upstream_echoing_the_token_has_it_scrubbed_from_the_message(exposed: Gateway) -> None:
    response = httpx.post(
        f"{exposed.url}/v1/chat/completions", json=CHAT, headers=asking("echo_headers")
    )

    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "you sent" in message
    assert TOKEN not in message
    assert TOKEN[3:20] not in message
