"""A pool of three real simulators behind one gateway: spread, a kill, a restart, a slow one.

Traffic runs from threads (sync httpx clients) so the test can wait on the gateway's
metrics meanwhile; each simulator can be stopped and started again on its port. The
``pooled`` gateway is of each upstream kind in turn: the openai kind sends its requests
to the pool without httpx2 (``PoolTransport.exchange``), the huggingface kind through it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager

import httpx
import pytest

from llm_gateway.ports import free_port
from llm_gateway.simulator.app import create_app as create_simulator_app
from llm_gateway.simulator.settings import SimulatorSettings
from tests.helpers import KINDS, Gateway, start_gateway, wait_for
from tests.servers import run_server

HELLO = {"prompt": "Hello", "max_new_tokens": 2}
POOL = {
    "retry_attempts": 3,
    "retry_backoff_seconds": 0.01,
    "upstream_eject_failures": 2,
    "upstream_eject_seconds": 0.3,
    "upstream_health_interval_seconds": 0.1,
    "upstream_timeout_seconds": 2.0,
}
# The upstream of the LLM_GATEWAY_* shorthand, as the pool metrics' `upstream` label names it.
UPSTREAM = "default"


class Simulator:
    """A simulator on a port of its own, which a test may stop and start again."""

    def __init__(self, time_to_first_token_seconds: float = 0.0) -> None:
        self.settings = SimulatorSettings(
            time_to_first_token_seconds=time_to_first_token_seconds,
            time_per_token_seconds=0.0,
            jitter=0.0,
            seed=7,
        )
        # The OS's choice at the first start, bound at once: a port chosen ahead and bound
        # later can be taken meanwhile (an outgoing connection's local port, say).
        self.port = 0
        self._server: AbstractContextManager[str] | None = None

    @property
    def url(self) -> str:
        assert self.port, "not started yet"
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._server = run_server(create_simulator_app(self.settings), port=self.port)
        url = self._server.__enter__()
        self.port = int(url.rsplit(":", 1)[1])

    def stop(self) -> None:
        if self._server is not None:
            self._server.__exit__(None, None, None)
            self._server = None

    @property
    def running(self) -> bool:
        return self._server is not None


def simulators(*latencies: float) -> Iterator[list[Simulator]]:
    pool = [Simulator(latency) for latency in latencies]
    try:
        for simulator in pool:
            simulator.start()
        yield pool
    finally:
        for simulator in pool:
            simulator.stop()


@pytest.fixture(scope="module")
def three() -> Iterator[list[Simulator]]:
    yield from simulators(0.0, 0.0, 0.0)


@pytest.fixture(scope="module", params=KINDS)
def pooled(request: pytest.FixtureRequest, three: list[Simulator]) -> Iterator[Gateway]:
    urls = ",".join(s.url for s in three)
    yield from start_gateway(urls, upstream_api=request.param, **POOL)


def served(gateway: Gateway, simulator: Simulator) -> float:
    return gateway.sample(
        "llm_gateway_upstream_endpoint_requests_total",
        upstream=UPSTREAM,
        upstream_url=simulator.url,
        outcome="success",
    )


def in_flight(gateway: Gateway, simulator: Simulator) -> float:
    return gateway.sample(
        "llm_gateway_upstream_endpoint_requests_in_flight", upstream_url=simulator.url
    )


def ejected(gateway: Gateway, simulator: Simulator) -> float:
    return gateway.sample(
        "llm_gateway_upstream_endpoint_ejected_addresses",
        upstream=UPSTREAM,
        upstream_url=simulator.url,
    )


class Traffic:
    """``clients`` threads sending one request after another until stopped or ``limit``."""

    def __init__(self, gateway: Gateway, clients: int, limit: int = 10_000) -> None:
        self.statuses: list[int] = []
        self._url = f"{gateway.url}/generate"
        self._limit = limit
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(clients)
        self._workers = [self._executor.submit(self._send) for _ in range(clients)]

    def _send(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set() and len(self.statuses) < self._limit:
                status = client.post(self._url, json=HELLO).status_code
                with self._lock:
                    self.statuses.append(status)

    def sent(self) -> int:
        return len(self.statuses)

    def finish(self) -> list[int]:
        """Wait for the limit to be reached (stop at once if ``stop``), then the statuses."""
        for worker in self._workers:
            worker.result(timeout=60)
        self._executor.shutdown()
        return self.statuses

    def stop(self) -> list[int]:
        self._stop.set()
        return self.finish()


def grows(value: Callable[[], float]) -> Callable[[], bool]:
    start = value()
    return lambda: value() > start


def test_traffic_spreads_over_every_endpoint(pooled: Gateway, three: list[Simulator]) -> None:
    before = [served(pooled, s) for s in three]

    statuses = Traffic(pooled, clients=6, limit=90).finish()

    counts = [served(pooled, s) - b for s, b in zip(three, before, strict=True)]
    assert statuses.count(200) == len(statuses) >= 90
    assert sum(counts) == len(statuses)
    assert min(counts) >= 10  # about 30 each; none starved
    assert [in_flight(pooled, s) for s in three] == [0, 0, 0]  # every answer released


def test_a_killed_endpoint_is_ejected_then_readmitted_with_no_error_reaching_clients(
    pooled: Gateway, three: list[Simulator]
) -> None:
    victim = three[1]
    traffic = Traffic(pooled, clients=4)
    try:
        wait_for(lambda: traffic.sent() >= 20)
        victim.stop()
        wait_for(lambda: ejected(pooled, victim) == 1)
        sent_while_down = traffic.sent()
        wait_for(lambda: traffic.sent() >= sent_while_down + 20)
        victim.start()
        wait_for(lambda: ejected(pooled, victim) == 0)
        wait_for(grows(lambda: served(pooled, victim)))
    finally:
        if not victim.running:
            victim.start()
        statuses = traffic.stop()

    assert statuses.count(200) == len(statuses)
    assert pooled.sample(
        "llm_gateway_upstream_endpoint_ejections_total", upstream=UPSTREAM, upstream_url=victim.url
    )


def test_a_slow_endpoint_gets_less_traffic() -> None:
    for slow, fast, faster in simulators(0.25, 0.0, 0.0):
        urls = ",".join(s.url for s in (slow, fast, faster))
        for gateway in start_gateway(urls, **POOL):
            statuses = Traffic(gateway, clients=4, limit=80).finish()

            counts = [served(gateway, s) for s in (slow, fast, faster)]
            assert statuses.count(200) == len(statuses)
            assert counts[0] < min(counts[1:]) / 2


def test_with_every_endpoint_down_clients_get_502_at_once() -> None:
    urls = ",".join(f"http://127.0.0.1:{free_port()}" for _ in range(2))
    for gateway in start_gateway(urls, **POOL):
        response = httpx.post(f"{gateway.url}/generate", json=HELLO, timeout=10)

        assert response.status_code == 502
        assert response.json()["error"]["code"] == "upstream_unreachable"
