"""Clients that attack the gateway over raw sockets: each is answered or cut off, in bounded
time and memory, and none can forge what the gateway writes."""

from __future__ import annotations

import json
import logging
import select
import socket
from collections.abc import Iterable, Iterator
from urllib.parse import urlparse

import pytest

from llm_gateway.logs import ACCESS_LOGGER, TextFormatter
from tests.helpers import Gateway, start_gateway, wait_for

TIMEOUT_SECONDS = 0.5
MAX_HEADER_BYTES = 8192


@pytest.fixture(scope="module")
def guarded(simulator_url: str) -> Iterator[Gateway]:
    yield from start_gateway(
        simulator_url,
        max_header_bytes=MAX_HEADER_BYTES,
        max_headers=50,
        request_header_timeout_seconds=TIMEOUT_SECONDS,
        request_body_timeout_seconds=TIMEOUT_SECONDS,
    )


def connect(gateway: Gateway) -> socket.socket:
    url = urlparse(gateway.url)
    sock = socket.create_connection((url.hostname, url.port), timeout=10)
    return sock


def answer_to(sock: socket.socket, pieces: Iterable[bytes], pause: float = 0.0) -> bytes:
    """Send ``pieces`` (``pause`` seconds apart) until the gateway answers; read the answer
    to the end. Fails if every piece went out with no answer."""
    for piece in pieces:
        readable, _, _ = select.select([sock], [], [], pause)
        if readable:
            break
        sock.sendall(piece)
    else:
        readable, _, _ = select.select([sock], [], [], 10)
        assert readable, "the gateway never answered"
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def envelope(answer: bytes) -> tuple[int, dict[str, str], dict[str, str]]:
    """The status, headers and error of a raw HTTP answer in the gateway's envelope."""
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {
        name.lower(): value.strip() for name, _, value in (h.partition(":") for h in lines[1:])
    }
    return int(lines[0].split()[1]), headers, json.loads(body)["error"]


def exchange(gateway: Gateway, raw: bytes) -> bytes:
    """Send ``raw`` and read until the gateway closes or answers in full."""
    with connect(gateway) as sock:
        sock.sendall(raw)
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def test_a_path_cannot_forge_a_text_log_line(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    path = b"/x%0A2026-01-01%2000:00:00%20INFO%20llm_gateway.access:%20request%1B[2J%E2%80%A8"

    answer = exchange(
        gateway, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )

    assert answer.startswith(b"HTTP/1.1 404")
    wait_for(
        lambda: any("x\n2026" in r.fields["path"] for r in caplog.records if hasattr(r, "fields"))
    )
    record = next(r for r in caplog.records if hasattr(r, "fields"))
    line = TextFormatter().format(record)
    assert "\n" not in line
    assert "\x1b" not in line
    assert "\u2028" not in line
    assert 'path="/x\\n2026-01-01 00:00:00 INFO' in line


def test_a_head_past_the_size_limit_is_refused_with_431_before_it_is_all_sent(
    guarded: Gateway,
) -> None:
    with connect(guarded) as sock:
        start = [b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: "]
        # 64 MiB offered; the gateway answers after about its limit.
        answer = answer_to(sock, start + [b"a" * 4096] * 16384)

    status, headers, error = envelope(answer)
    assert status == 431
    assert error["code"] == "header_too_large"
    assert headers["connection"] == "close"
    assert headers["x-request-id"]


def test_too_many_header_fields_are_refused_with_431_and_an_access_line(
    guarded: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    fields = b"".join(b"X-F%d: 1\r\n" % i for i in range(51))

    answer = exchange(guarded, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")

    status, headers, error = envelope(answer)
    assert status == 431
    assert error["code"] == "too_many_headers"
    # Written before the answer: no wait needed.
    (line,) = [
        r.fields
        for r in caplog.records
        if getattr(r, "fields", {}).get("request_id") == headers["x-request-id"]
    ]
    assert (line["status"], line["error_code"]) == (431, "too_many_headers")


def test_a_head_that_never_ends_gets_408_after_the_header_timeout(guarded: Gateway) -> None:
    with connect(guarded) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        # A field every 0.1 s: each is short, the head is never done (slowloris).
        answer = answer_to(sock, (b"X-Slow-%d: 1\r\n" % i for i in range(100)), pause=0.1)

    status, _, error = envelope(answer)
    assert status == 408
    assert error["code"] == "header_timeout"


def test_connections_holding_partial_heads_are_all_closed(guarded: Gateway) -> None:
    sockets = [connect(guarded) for _ in range(50)]
    for sock in sockets:
        sock.sendall(b"POST /generate HTTP/1.1\r\nHost: x\r\n")

    # Each gets its 408 and is closed; the test's own wait bounds it.
    answers = [answer_to(sock, []) for sock in sockets]

    assert all(answer.startswith(b"HTTP/1.1 408") for answer in answers)
    for sock in sockets:
        sock.close()


@pytest.mark.parametrize("pause", [0.0, 0.1], ids=["a body that stops", "a byte every 0.1 s"])
def test_a_body_not_done_within_the_body_timeout_gets_408(guarded: Gateway, pause: float) -> None:
    head = b"POST /generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    with connect(guarded) as sock:
        sock.sendall(head + b"Content-Length: 1000\r\n\r\n{")
        answer = answer_to(sock, [b" "] * 100, pause=pause) if pause else answer_to(sock, [])

    status, headers, error = envelope(answer)
    assert status == 408
    assert error["code"] == "body_timeout"
    assert headers["connection"] == "close"


def test_a_client_leaving_mid_body_is_logged_as_499(
    guarded: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    head = b"POST /generate HTTP/1.1\r\nHost: x\r\nX-Request-Id: gone-mid-body\r\n"

    with connect(guarded) as sock:
        sock.sendall(head + b"Content-Length: 1000\r\n\r\n{")

    def logged() -> int | None:
        for record in caplog.records:
            fields = getattr(record, "fields", {})
            if fields.get("request_id") == "gone-mid-body":
                return int(fields["status"])
        return None

    wait_for(lambda: logged() is not None)
    assert logged() == 499


def test_what_is_not_http_gets_the_json_envelope_and_a_request_id(guarded: Gateway) -> None:
    answer = exchange(guarded, b"NOT HTTP AT ALL\r\n\r\n")

    status, headers, error = envelope(answer)
    assert status == 400
    assert error["code"] == "invalid_http"
    assert headers["x-request-id"]


def test_an_endless_chunked_upload_gets_408_after_the_body_timeout(guarded: Gateway) -> None:
    head = b"POST /generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    with connect(guarded) as sock:
        sock.sendall(head + b"Transfer-Encoding: chunked\r\n\r\n1\r\n{\r\n")
        answer = answer_to(sock, [b"1\r\n \r\n"] * 100, pause=0.1)

    status, _, error = envelope(answer)
    assert status == 408
    assert error["code"] == "body_timeout"
