"""An upstream that attacks the gateway: it can cost neither unbounded memory nor time."""

from __future__ import annotations

import json
import logging
import os
import socket
import struct
import time
from collections.abc import Iterator
from urllib.parse import urlparse

import httpx
import psutil
import pytest

from llm_gateway.logs import ACCESS_LOGGER
from tests.helpers import KINDS, MODEL, Gateway, sse_payloads, start_gateway, wait_for
from tests.hostile import HostileUpstream, asking

CHAT = {"messages": [{"role": "user", "content": "Hello"}], "max_tokens": 3}
STREAM = {**CHAT, "stream": True}
TOKEN = "hf_hostileUpstreamTestToken0123456789abcd"
# Growth of this process's RSS (the gateway runs in it) a hostile answer may cause.
MAX_RSS_GROWTH_BYTES = 96 * 1024 * 1024
DEADLINE_SECONDS = 1.5


@pytest.fixture(scope="module", params=KINDS)
def exposed(
    request: pytest.FixtureRequest,
    hostile: HostileUpstream,
    monkeypatch_module: pytest.MonkeyPatch,
) -> Iterator[Gateway]:
    """A gateway of either upstream kind; both send the token (the openai kind as its key)."""
    monkeypatch_module.setenv("HF_TOKEN", TOKEN)
    yield from start_gateway(
        hostile.url,
        upstream_api=request.param,
        upstream_api_key_env="HF_TOKEN" if request.param == "openai" else None,
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


def ask(gateway: Gateway, body: dict[str, object], behaviour: str) -> httpx.Response:
    """A chat request the hostile upstream answers with ``behaviour``, the client waiting
    10 s at most (the gateway's upstream timeout is 5 s)."""
    return httpx.post(
        f"{gateway.url}/v1/chat/completions", json=body, headers=asking(behaviour), timeout=10
    )


def rss() -> int:
    return int(psutil.Process(os.getpid()).memory_info().rss)


def errors(gateway: Gateway, reason: str) -> float:
    return gateway.sample(
        "llm_gateway_upstream_errors_total", model=MODEL, reason=reason, status_code=""
    )


# "flood": an endless event stream, sent to a request that reads its answer whole.
@pytest.mark.parametrize("behaviour", ["huge", "endless_chunked", "bomb", "flood"])
def test_an_oversized_upstream_body_is_a_502_with_memory_bounded(
    exposed: Gateway, hostile: HostileUpstream, behaviour: str
) -> None:
    before, counted = rss(), errors(exposed, "response_too_large")

    response = ask(exposed, CHAT, behaviour)

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_response_too_large"
    assert rss() - before < MAX_RSS_GROWTH_BYTES
    assert errors(exposed, "response_too_large") == counted + 1
    wait_for(lambda: hostile.answering[behaviour] == 0)


def test_an_endless_stream_line_is_a_502_with_memory_bounded(
    exposed: Gateway, hostile: HostileUpstream
) -> None:
    before = rss()

    response = ask(exposed, STREAM, "endless_line")

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_response_too_large"
    assert rss() - before < MAX_RSS_GROWTH_BYTES
    wait_for(lambda: hostile.answering["endless_line"] == 0)


@pytest.mark.parametrize("behaviour", ["redirect_loop", "deep_json"])
def test_a_redirect_loop_or_json_nested_too_deep_is_an_upstream_error(
    exposed: Gateway, behaviour: str
) -> None:
    response = ask(exposed, CHAT, behaviour)

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_bad_response"


def test_json_of_the_wrong_shape_is_a_502_counted_as_a_bad_response(exposed: Gateway) -> None:
    counted = errors(exposed, "bad_response")

    response = ask(exposed, CHAT, "wrong_shape")

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_bad_response"
    assert errors(exposed, "bad_response") == counted + 1


def test_a_stream_whose_one_frame_is_unreadable_passes_it_over_and_is_incomplete(
    exposed: Gateway,
) -> None:
    # The openai kind reads frames itself and passes an unreadable one over (counted);
    # this stream has nothing else, so it never finishes. huggingface_hub's reader
    # fails on the frame: the stream is the upstream's bad response.
    openai = exposed.settings.upstream_api == "openai"
    skipped = exposed.sample("llm_gateway_stream_frames_skipped_total", model=MODEL)
    reason = "server_error" if openai else "bad_response"
    counted = errors(exposed, reason)

    response = ask(exposed, STREAM, "wrong_shape_stream")

    assert response.status_code == 502
    code = "upstream_stream_incomplete" if openai else "upstream_bad_response"
    assert response.json()["error"]["code"] == code
    assert errors(exposed, reason) == counted + 1
    assert exposed.sample("llm_gateway_stream_frames_skipped_total", model=MODEL) == (
        skipped + (1 if openai else 0)
    )


def test_a_non_ascii_retry_after_is_a_429_without_one(exposed: Gateway) -> None:
    response = ask(exposed, CHAT, "non_ascii_retry_after")

    assert response.status_code == 429
    assert response.json()["error"]["code"] == "upstream_rate_limited"
    assert "retry-after" not in response.headers


def test_an_upstream_echoing_the_token_has_it_scrubbed_from_the_message(exposed: Gateway) -> None:
    response = ask(exposed, CHAT, "echo_headers")

    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "you sent" in message
    assert TOKEN not in message
    assert TOKEN[3:20] not in message


def open_stream(gateway: Gateway, behaviour: str) -> tuple[socket.socket, str]:
    """A streamed chat request sent over a raw socket whose answer is not read."""
    request_id = asking(behaviour)["X-Request-Id"]
    body = json.dumps(STREAM).encode()
    url = urlparse(gateway.url)
    sock = socket.create_connection((url.hostname, url.port), timeout=10)
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"X-Request-Id: %s\r\nContent-Length: %d\r\n\r\n%s" % (request_id.encode(), len(body), body)
    )
    return sock, request_id


def leave(sock: socket.socket) -> None:
    """Close at once, unread data and all (a reset, as a process that dies)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def in_flight(gateway: Gateway) -> float:
    return gateway.sample("llm_gateway_upstream_requests_in_flight", model=MODEL)


def access_status(caplog: pytest.LogCaptureFixture, request_id: str) -> int | None:
    for record in caplog.records:
        fields = getattr(record, "fields", {})
        if fields.get("request_id") == request_id:
            return int(fields["status"])
    return None


def test_a_stream_abandoned_before_its_first_token_is_released_at_once(
    exposed: Gateway, hostile: HostileUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    sock, request_id = open_stream(exposed, "silent")
    wait_for(lambda: hostile.answering["silent"] == 1 and in_flight(exposed) == 1)

    leave(sock)

    # Well before the upstream timeout (5 s) would have ended it.
    wait_for(lambda: in_flight(exposed) == 0 and hostile.answering["silent"] == 0, 4.0)
    wait_for(lambda: access_status(caplog, request_id) == 499, 2.0)


def test_a_client_that_stops_reading_then_leaves_during_a_flood_is_noticed_at_once(
    exposed: Gateway, hostile: HostileUpstream
) -> None:
    sent = hostile.sent
    sock, _ = open_stream(exposed, "flood")
    assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    wait_for(lambda: hostile.sent > sent + 1024 * 1024)  # well past what the client read

    leave(sock)

    wait_for(lambda: in_flight(exposed) == 0 and hostile.answering["flood"] == 0, 2.0)


def test_an_upstream_trickling_bytes_is_cut_at_the_request_deadline(exposed: Gateway) -> None:
    started = time.monotonic()

    response = ask(exposed, CHAT, "trickle_before_first_token")

    assert response.status_code == 504
    assert response.json()["error"]["code"] == "request_deadline_exceeded"
    # Not before the deadline; well before the client's own timeout (10 s).
    assert time.monotonic() - started >= DEADLINE_SECONDS


def test_a_stream_trickling_after_its_first_token_ends_with_an_error_frame_at_the_deadline(
    exposed: Gateway,
) -> None:
    started = time.monotonic()

    response = ask(exposed, STREAM, "trickle")

    payloads = sse_payloads(response.text)
    assert response.status_code == 200
    assert '"request_deadline_exceeded"' in payloads[-2]
    assert payloads[-1] == "[DONE]"
    # Not before the deadline; well before the client's own timeout (10 s).
    assert time.monotonic() - started >= DEADLINE_SECONDS
