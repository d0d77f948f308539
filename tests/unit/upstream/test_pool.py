"""The pool's choices and its breaker, on a clock the tests move."""

from __future__ import annotations

import random
import socket
from collections import Counter

import pytest
from prometheus_client import CollectorRegistry

from llm_gateway.metrics.labels import EndpointOutcome
from llm_gateway.metrics.recorder import Recorder
from llm_gateway.upstream.pool import Address, Pool, preferred_addresses

URLS = ["http://10.0.0.1:8080", "http://10.0.0.2:8080", "http://10.0.0.3:8080"]
UPSTREAM = "vllm"
OK, DOWN = EndpointOutcome.SUCCESS, EndpointOutcome.CONNECTION


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def pool(clock: Clock, registry: CollectorRegistry) -> Pool:
    return Pool(
        URLS,
        Recorder(registry),
        upstream=UPSTREAM,
        eject_failures=2,
        eject_seconds=5.0,
        clock=clock,
        rng=random.Random(3),
    )


def send(pool: Pool, outcome: EndpointOutcome = OK, request_id: str | None = None) -> Address:
    address = pool.pick(request_id)
    pool.answered(address, outcome, 0.01, request_id)
    pool.release(address)
    return address


def ejected(registry: CollectorRegistry, url: str) -> float | None:
    return registry.get_sample_value(
        "llm_gateway_upstream_endpoint_ejected_addresses",
        {"upstream": UPSTREAM, "upstream_url": url},
    )


def test_requests_spread_over_every_endpoint(pool: Pool, registry: CollectorRegistry) -> None:
    counts = Counter(send(pool).endpoint for _ in range(300))

    assert set(counts) == set(URLS)
    assert min(counts.values()) > 60
    assert (
        registry.get_sample_value(
            "llm_gateway_upstream_endpoint_requests_total",
            {"upstream": UPSTREAM, "upstream_url": URLS[0], "outcome": "success"},
        )
        == counts[URLS[0]]
    )


def test_the_endpoint_with_the_most_requests_outstanding_loses_every_comparison(
    pool: Pool,
) -> None:
    for load, address in enumerate(pool.addresses):
        address.in_flight = load

    assert pool.addresses[2] not in {send(pool) for _ in range(50)}


def test_a_slower_endpoint_loses_ties(pool: Pool) -> None:
    slow = pool.addresses[0]
    for address in pool.addresses:
        address.ttfb_ewma = 1.0 if address is slow else 0.01

    assert slow not in {send(pool) for _ in range(50)}


def test_consecutive_failures_eject_then_one_probe_decides(
    pool: Pool, clock: Clock, registry: CollectorRegistry
) -> None:
    bad = pool.addresses[0]
    for _ in range(2):
        pool.checked(bad, healthy=False)
    assert ejected(registry, URLS[0]) == 1
    assert bad not in {send(pool) for _ in range(30)}

    clock.now += 5.0  # due: one probe, and only one, goes to it
    while (probe := pool.pick(None)) is not bad:
        pool.release(probe)
    assert bad not in {pool.pick(None) for _ in range(10)}
    pool.answered(bad, DOWN, 0.01, None)  # the probe failed: ejected twice as long
    clock.now += 5.0
    assert bad not in {send(pool) for _ in range(30)}

    clock.now += 5.0
    pool.checked(bad, healthy=True)  # an active check succeeds: back in rotation
    assert ejected(registry, URLS[0]) == 0
    assert bad in {send(pool) for _ in range(30)}


def test_the_last_endpoint_in_rotation_is_never_ejected(pool: Pool) -> None:
    for address in pool.addresses:
        for _ in range(5):
            pool.checked(address, healthy=False)

    assert sum(a.ejected_until is None for a in pool.addresses) == 1


def test_a_retry_goes_to_another_endpoint(pool: Pool) -> None:
    for attempt in range(50):
        failed = send(pool, DOWN, request_id=f"r{attempt}")
        failed.failures = 0  # keep it in rotation: only the avoidance is under test
        assert send(pool, OK, request_id=f"r{attempt}") is not failed


def test_a_name_is_one_endpoint_per_address_of_one_family() -> None:
    v4 = (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.0.7", 80))
    v4b = (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.0.5", 80))
    v6 = (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("fd00::7", 80, 0, 0))

    assert preferred_addresses([v6, v4, v4b, v4]) == ["10.1.0.5", "10.1.0.7"]
    assert preferred_addresses([v6]) == ["fd00::7"]


async def test_a_host_name_resolves_to_its_addresses_keeping_the_host_header() -> None:
    pool = Pool(["http://localhost:8081/v1"], Recorder.disabled(), upstream=UPSTREAM)

    await pool.resolve()

    [address] = pool.addresses
    assert address.base_url == "http://127.0.0.1:8081/v1"
    assert address.host == "localhost:8081"
    assert address.endpoint == "http://localhost:8081/v1"
