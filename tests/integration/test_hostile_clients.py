"""Clients that attack the gateway over raw sockets: each is answered or cut off, in bounded
time and memory, and none can forge what the gateway writes."""

from __future__ import annotations

import logging
import socket
from urllib.parse import urlparse

import pytest

from llm_gateway.logs import ACCESS_LOGGER, TextFormatter
from tests.helpers import Gateway, wait_for


def connect(gateway: Gateway) -> socket.socket:
    url = urlparse(gateway.url)
    sock = socket.create_connection((url.hostname, url.port), timeout=10)
    return sock


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
