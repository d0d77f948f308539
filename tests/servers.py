"""Real servers on loopback for integration tests.

``run_server`` serves an ASGI app on ``127.0.0.1`` with an OS-chosen port, from a thread
with its own event loop, so sync and async tests of any loop scope can use it (over TLS
too); ``HeaderLog`` records what a server behind it was sent. ``silent_listener`` is a
host that never answers; ``Loopback`` a resolver that sends every host name to one of
these servers. :class:`RedisServer` runs a real ``redis-server``
process that tests can kill, freeze and start again on the same port, a
:class:`ServerProcess` as llama.cpp's server is (``tests/llama/server.py``).
"""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import uvicorn
from aiohttp.abc import AbstractResolver, ResolveResult
from starlette.types import ASGIApp, Receive, Scope, Send

STARTUP_TIMEOUT_SECONDS = 10.0
Process = TypeVar("Process", bound="ServerProcess")


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
    app: ASGIApp,
    http: Any = "auto",
    *,
    tls: tuple[str, str] | None = None,
    port: int = 0,
) -> Iterator[str]:
    """Serve ``app`` until the block exits; yields its base URL, ``http://127.0.0.1:<port>``.

    ``http`` is uvicorn's protocol option: the gateway's own for a gateway. With ``tls`` (a
    certificate chain file and its key file), over HTTPS: ``https://...``. ``port`` 0 lets
    the OS choose; a given one lets a test start a server again where it was.
    """
    certfile, keyfile = tls if tls is not None else (None, None)
    config = uvicorn.Config(
        app,
        http=http,
        host="127.0.0.1",
        port=port,
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


class HeaderLog:
    """An app (the simulator behind a gateway) recording each request's headers, with its
    path as the ``:path`` pseudo-header, by request id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.headers: dict[str, list[dict[str, str]]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode(): v.decode() for k, v in scope["headers"]}
            headers[":path"] = scope["path"]
            self.headers.setdefault(headers.get("x-request-id", ""), []).append(headers)
        await self.app(scope, receive, send)


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


class ServerProcess:
    """A server process on loopback that tests start, kill, freeze and start again.

    ``start`` returns once :meth:`answers` holds (polled, within ``startup_timeout``) and
    fails with the process's log if it exits or stays silent; stdout and stderr go to
    ``log``.
    """

    def __init__(
        self,
        command: list[str],
        log: Path,
        startup_timeout: float = STARTUP_TIMEOUT_SECONDS,
    ) -> None:
        self._command = command
        self._log = log
        self._startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None

    def answers(self) -> bool:
        raise NotImplementedError

    def start(self) -> None:
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(self._command, stdout=log, stderr=log)
        deadline = time.monotonic() + self._startup_timeout
        while not self.answers():
            if time.monotonic() > deadline or self._process.poll() is not None:
                self.kill()
                raise RuntimeError(f"{self._command[0]} did not start: {self._log.read_text()}")
            time.sleep(0.01)

    def kill(self) -> None:
        """Gone at once, as a crashed or evicted pod: no goodbye to its clients."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def freeze(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    @property
    def running(self) -> bool:
        return self._process is not None


class RedisServer(ServerProcess):
    """A ``redis-server`` on 127.0.0.1 at ``port``, without persistence: a restart empties it."""

    def __init__(self, binary: str, port: int, workdir: Path) -> None:
        self.url = f"redis://127.0.0.1:{port}/0"
        self._port = port
        command = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", ""]
        command += ["--appendonly", "no", "--dir", str(workdir)]
        super().__init__(command, workdir / "redis.log")

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self._port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(7) == b"+PONG\r\n"
        except OSError:
            return False


@contextmanager
def started(server: Process) -> Iterator[Process]:
    """``server`` started for the block, and killed after it (even if frozen)."""
    server.start()
    try:
        yield server
    finally:
        if server.running:
            server.thaw()  # a frozen process ignores SIGKILL's wait otherwise
        server.kill()


def run_redis(binary: str, port: int, workdir: Path) -> AbstractContextManager[RedisServer]:
    return started(RedisServer(binary, port, workdir))
