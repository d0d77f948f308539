"""Real uvicorn servers on loopback for integration tests.

``run_server`` serves an ASGI app on ``127.0.0.1`` with an OS-chosen port, from a thread
with its own event loop, so sync and async tests of any loop scope can use it (over TLS
too). ``silent_listener`` is a host that never answers; ``Loopback`` a resolver that sends
every host name to one of these servers.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from aiohttp.abc import AbstractResolver, ResolveResult
from starlette.types import ASGIApp

STARTUP_TIMEOUT_SECONDS = 10.0


class _ThreadedServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets=sockets)
        finally:
            # Set even when startup fails, so the caller stops waiting and reports it.
            self.ready.set()


@contextmanager
def run_server(
    app: ASGIApp, http: Any = "auto", *, tls: tuple[str, str] | None = None
) -> Iterator[str]:
    """Serve ``app`` until the block exits; yields its base URL, ``http://127.0.0.1:<port>``.

    ``http`` is uvicorn's protocol option: the gateway's own for a gateway. With ``tls`` (a
    certificate chain file and its key file), over HTTPS: ``https://...``.
    """
    certfile, keyfile = tls if tls is not None else (None, None)
    config = uvicorn.Config(
        app,
        http=http,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        ws="none",
        lifespan="on",
        # Requests still open at teardown (a hang the test left behind) must not block it.
        timeout_graceful_shutdown=1,
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
    )
    server = _ThreadedServer(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test-server", daemon=True)
    thread.start()
    try:
        if not server.ready.wait(STARTUP_TIMEOUT_SECONDS) or not server.started:
            raise RuntimeError("the test server did not start")
        host, port = server.servers[0].sockets[0].getsockname()[:2]
        yield f"{'https' if tls else 'http'}://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join()


@contextmanager
def silent_listener() -> Iterator[tuple[str, list[socket.socket]]]:
    """A TCP listener that accepts connections and never answers: an unresponsive host.

    Yields its URL, ``http://127.0.0.1:<port>``, and the connections it accepted so far.
    """
    accepted: list[socket.socket] = []
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, name="silent-listener", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", accepted
    finally:
        stop.set()
        thread.join()
        for connection in accepted:
            connection.close()
        listener.close()


class Loopback(AbstractResolver):
    """Every host name resolves to one loopback port; the names asked for are kept."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.hosts: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.hosts.append(host)
        return [
            ResolveResult(
                hostname=host,
                host="127.0.0.1",
                port=self.port,
                family=socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
        ]

    async def close(self) -> None:
        return None
