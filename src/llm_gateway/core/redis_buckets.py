"""Token buckets in Redis, shared by every worker and replica: the only module using redis-py.

Each call is one round trip running a Lua script, which Redis runs atomically: there is
no read-then-write race between gateways. The script refills a bucket from the time
Redis itself reports (``TIME``), so pods whose clocks disagree still agree on a balance.
A bucket is a hash ``{balance, updated}`` that expires once it would have refilled (a
missing bucket is a full one), so idle keys cost nothing. The two buckets of a key share
a hash tag (``{alias}``), so they live in one slot of a Redis Cluster too.

Every round trip is bounded by ``timeout``, and its errors become
:class:`StoreUnavailable`: the caller decides what a failure means. redis-py reconnects
by itself, and tries once more at once on a fresh connection when a pooled one turns out
dead (Redis restarted), so limits hold again as soon as Redis answers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from llm_gateway.core.buckets import (
    Draw,
    Refusal,
    StoreFailure,
    StoreOperation,
    StoreUnavailable,
    wait_seconds,
)
from llm_gateway.core.metrics import Metrics
from llm_gateway.errors import RateLimit

T = TypeVar("T")

KEY_PREFIX = "llm_gateway:ratelimit"

# Shared by both scripts: the time on the server, a bucket's refilled balance, and how
# a balance is written back.
_PRELUDE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000

local function balance(key, capacity)
  local state = redis.call('HMGET', key, 'balance', 'updated')
  local level = tonumber(state[1])
  if level == nil then
    return capacity
  end
  local elapsed = math.max(0, now - tonumber(state[2]))
  return math.min(capacity, level + elapsed * capacity / 60)
end

local function store(key, capacity, level)
  redis.call('HSET', key, 'balance', tostring(level), 'updated', tostring(now))
  -- Forgotten once it would be full again: a missing bucket is a full one.
  redis.call('PEXPIRE', key, math.ceil((capacity - level) * 60000 / capacity) + 1000)
end
"""

# KEYS: one bucket per draw; ARGV: capacity, need and cost of each draw, in turn.
# Returns {} when every draw was spent, or {index of the refused one, its balance}.
_TAKE = (
    _PRELUDE
    + """
local levels = {}
for i, key in ipairs(KEYS) do
  levels[i] = balance(key, tonumber(ARGV[3 * i - 2]))
  if levels[i] < tonumber(ARGV[3 * i - 1]) then
    return {i, tostring(levels[i])}
  end
end
for i, key in ipairs(KEYS) do
  store(key, tonumber(ARGV[3 * i - 2]), levels[i] - tonumber(ARGV[3 * i]))
end
return {}
"""
)

# KEYS: one bucket; ARGV: its capacity and the units put back (negative: taken).
_GIVE = (
    _PRELUDE
    + """
local capacity = tonumber(ARGV[1])
store(KEYS[1], capacity, math.min(capacity, balance(KEYS[1], capacity) + tonumber(ARGV[2])))
return 1
"""
)


def bucket_key(client: str, limit: RateLimit) -> str:
    return f"{KEY_PREFIX}:{{{client}}}:{limit}"


class RedisBuckets:
    def __init__(self, url: str, password: str | None, timeout: float, metrics: Metrics) -> None:
        options: dict[str, Any] = {} if password is None else {"password": password}
        # A password in the URL wins over ``password``.
        self._redis = Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1),
            **options,
        )
        self._take = self._redis.register_script(_TAKE)
        self._give = self._redis.register_script(_GIVE)
        self._timeout = timeout
        self._metrics = metrics

    async def take(self, draws: Sequence[Draw]) -> Refusal | None:
        keys = [bucket_key(draw.client, draw.limit) for draw in draws]
        args = [value for draw in draws for value in (draw.capacity, draw.need, draw.cost)]
        refused = await self._round_trip(StoreOperation.TAKE, lambda: self._take(keys, args))
        if not refused:
            return None
        draw = draws[int(refused[0]) - 1]
        return Refusal(draw.limit, draw.capacity, wait_seconds(draw, float(refused[1])))

    async def give(self, client: str, limit: RateLimit, capacity: int, units: float) -> None:
        key = bucket_key(client, limit)
        await self._round_trip(StoreOperation.GIVE, lambda: self._give([key], [capacity, units]))

    async def close(self) -> None:
        await self._redis.aclose()

    async def _round_trip(self, operation: StoreOperation, call: Callable[[], Awaitable[T]]) -> T:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeout):
                return await call()
        except (TimeoutError, RedisTimeoutError) as exc:
            raise StoreUnavailable(StoreFailure.TIMEOUT) from exc
        except (RedisConnectionError, OSError) as exc:
            raise StoreUnavailable(StoreFailure.CONNECTION) from exc
        except RedisError as exc:
            raise StoreUnavailable(StoreFailure.ERROR) from exc
        finally:
            self._metrics.rate_limit_store_round_trip(operation, time.perf_counter() - started)
