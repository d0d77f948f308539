"""Per-key limits in a real Redis: shared by gateways, and what happens when Redis fails.

Two gateways (each its own app, event loop and Redis client, as two pods are) share one
redis-server. Each test keeps to API key aliases of its own, so tests sharing the server
stay independent.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from llm_gateway.core.buckets import BucketStore, LocalBuckets
from llm_gateway.core.limits import FailureMode, RateLimiter
from llm_gateway.core.redis_buckets import RedisBuckets
from llm_gateway.core.types import CompletionTask, Endpoint, Origin
from llm_gateway.errors import RateLimit, RateLimited
from llm_gateway.metrics.recorder import Recorder
from llm_gateway.ports import free_port
from tests.helpers import Gateway, installed, start_gateway
from tests.servers import RedisServer, run_redis

LIMIT = 20  # requests per minute for each key
# Long enough that a busy machine never turns a slow answer into a fallback; the tests
# of a failing Redis wait this long for each request to a frozen one.
REDIS_TIMEOUT_SECONDS = 1.0
# A burst of three budgets at once, on two gateways and the simulator sharing one process:
# on a loaded machine some answers take longer than the shared gateways' 0.5 s, and a 504
# would be counted where the test expects 200 or 429. Timeouts are not what is tested here.
UPSTREAM_TIMEOUT_SECONDS = 10.0
KEYS = {
    "shared": "sk-test-shared-0123456789",
    "alone": "sk-test-alone-0123456789",
    "open": "sk-test-open-0123456789",
    "closed": "sk-test-closed-0123456789",
    "frozen": "sk-test-frozen-0123456789",
}
HELLO = {"prompt": "Hello", "max_new_tokens": 2}


def keyed(**overrides: object) -> dict[str, object]:
    return {
        "api_keys": KEYS,
        "rate_limit_requests_per_minute": LIMIT,
        "redis_timeout_seconds": REDIS_TIMEOUT_SECONDS,
        "upstream_timeout_seconds": UPSTREAM_TIMEOUT_SECONDS,
        **overrides,
    }


def headers(alias: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[alias]}"}


@pytest.fixture(scope="module")
def pair(simulator_url: str, redis_server: RedisServer) -> Iterator[tuple[Gateway, Gateway]]:
    options = keyed(redis_url=redis_server.url)
    for first in start_gateway(simulator_url, **options):
        for second in start_gateway(simulator_url, **options):
            yield first, second


@pytest.fixture(scope="module")
def apart(simulator_url: str) -> Iterator[tuple[Gateway, Gateway]]:
    for first in start_gateway(simulator_url, **keyed()):
        for second in start_gateway(simulator_url, **keyed()):
            yield first, second


@pytest.fixture(scope="module")
def failing_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A Redis of this module's own, which its tests kill, freeze and start again."""
    workdir: Path = tmp_path_factory.mktemp("failing-redis")
    with run_redis(installed("redis-server"), free_port(), workdir) as server:
        yield server


@pytest.fixture
def redis(failing_redis: RedisServer) -> Iterator[RedisServer]:
    yield failing_redis
    if not failing_redis.running:
        failing_redis.start()


@pytest.fixture(scope="module")
def fails_open(simulator_url: str, failing_redis: RedisServer) -> Iterator[Gateway]:
    yield from start_gateway(simulator_url, **keyed(redis_url=failing_redis.url))


@pytest.fixture(scope="module")
def fails_closed(simulator_url: str, failing_redis: RedisServer) -> Iterator[Gateway]:
    yield from start_gateway(
        simulator_url,
        **keyed(redis_url=failing_redis.url, rate_limit_failure_mode=FailureMode.CLOSED),
    )


async def burst(gateways: tuple[Gateway, ...], alias: str, count: int) -> list[int]:
    """``count`` requests at once, spread evenly over ``gateways``: their statuses."""
    async with httpx.AsyncClient(timeout=10) as client:
        responses = await asyncio.gather(
            *(
                client.post(
                    f"{gateways[i % len(gateways)].url}/generate",
                    json=HELLO,
                    headers=headers(alias),
                )
                for i in range(count)
            )
        )
    return [response.status_code for response in responses]


async def timed_burst(gateways: tuple[Gateway, ...], alias: str) -> tuple[list[int], int]:
    """Three budgets' worth of requests at once: their statuses, and how many requests a
    bucket may have regained while they ran (the most a burst may exceed LIMIT by)."""
    started = time.monotonic()
    statuses = await burst(gateways, alias, 3 * LIMIT)
    return statuses, math.ceil((time.monotonic() - started) * LIMIT / 60)


def store_errors(gateway: Gateway, reason: str) -> float:
    return gateway.sample(
        "llm_gateway_rate_limit_store_errors_total", operation="take", reason=reason
    )


async def test_two_gateways_sharing_redis_admit_one_limit_between_them(
    pair: tuple[Gateway, Gateway],
) -> None:
    statuses, refilled = await timed_burst(pair, "shared")

    admitted = statuses.count(200)
    assert set(statuses) == {200, 429}
    assert LIMIT <= admitted <= LIMIT + refilled
    refused = [
        g.sample("llm_gateway_rate_limited_requests_total", client="shared", limit="requests")
        for g in pair
    ]
    assert sum(refused) == statuses.count(429)
    assert all(refused)  # each gateway refused some: the budget is one, not two
    for gateway in pair:
        assert gateway.sample(
            "llm_gateway_rate_limit_store_duration_seconds_count", operation="take"
        )
        assert store_errors(gateway, "timeout") == store_errors(gateway, "connection") == 0


async def test_without_redis_each_gateway_admits_the_limit_on_its_own(
    apart: tuple[Gateway, Gateway],
) -> None:
    statuses, refilled = await timed_burst(apart, "alone")

    assert 2 * LIMIT <= statuses.count(200) <= 2 * (LIMIT + refilled)


async def test_with_redis_killed_requests_go_on_when_failing_open_and_limits_come_back(
    fails_open: Gateway, redis: RedisServer
) -> None:
    assert set(await burst((fails_open,), "open", LIMIT + 1)) == {200, 429}
    errors = store_errors(fails_open, "connection")

    redis.kill()
    # This worker's own buckets take over: a full budget of their own.
    down = await burst((fails_open,), "open", LIMIT)
    assert down == [200] * LIMIT
    assert store_errors(fails_open, "connection") >= errors + LIMIT

    redis.start()  # empty: no persistence
    errors = store_errors(fails_open, "connection")
    back = await burst((fails_open,), "open", LIMIT + 1)
    assert sorted(back) == [200] * LIMIT + [429]
    assert store_errors(fails_open, "connection") == errors


async def test_with_redis_killed_requests_get_503_when_failing_closed_until_it_is_back(
    fails_closed: Gateway, redis: RedisServer
) -> None:
    errors = store_errors(fails_closed, "connection")
    redis.kill()

    async with httpx.AsyncClient(timeout=10) as client:
        url = f"{fails_closed.url}/generate"
        refused = await client.post(url, json=HELLO, headers=headers("closed"))
        redis.start()
        served = await client.post(url, json=HELLO, headers=headers("closed"))

    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"
    assert refused.json()["error"]["code"] == "rate_limit_store_unavailable"
    assert store_errors(fails_closed, "connection") == errors + 1
    assert served.status_code == 200


async def test_a_frozen_redis_does_not_stall_requests(
    fails_open: Gateway, redis: RedisServer
) -> None:
    errors = store_errors(fails_open, "timeout")
    redis.freeze()
    try:
        statuses = await burst((fails_open,), "frozen", 3)
    finally:
        redis.thaw()

    assert statuses == [200] * 3
    assert store_errors(fails_open, "timeout") == errors + 3


@pytest.mark.parametrize("where", ["local", "redis"])
async def test_tokens_are_reserved_when_admitted_and_settled_to_the_usage(
    where: str, redis_server: RedisServer
) -> None:
    def store() -> BucketStore:
        if where == "local":
            return local
        return RedisBuckets(redis_server.url, None, 0.25, Recorder.disabled())

    local = LocalBuckets()
    # 60 completion tokens and 8 prompt characters: 62 tokens reserved of 100.
    request = CompletionTask(
        origin=Origin("r", client=f"reserving-{where}"),
        endpoint=Endpoint.GENERATE,
        model=None,
        messages=[{"role": "user", "content": "x" * 8}],
        max_tokens=60,
    )
    limiter = RateLimiter(0, 100, Recorder.disabled(), store=store())
    reservation = await limiter.admit(request)
    with pytest.raises(RateLimited) as refused:
        await limiter.admit(request)  # 38 left: a second long request waits
    limiter.settle(reservation, 10)  # it used 10: 52 back
    await limiter.close()

    again = RateLimiter(0, 100, Recorder.disabled(), store=store())
    try:
        assert await again.admit(request) is not None  # 90 left
        with pytest.raises(RateLimited):
            await again.admit(request)  # 28 left
    finally:
        await again.close()
    assert refused.value.limit is RateLimit.TOKENS
    assert refused.value.retry_after == math.ceil((62 - 38) * 60 / 100)
