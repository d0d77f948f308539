"""Protection of the upstream and of fairness between clients.

* :class:`ConcurrencyLimiter`: at most ``max_concurrency`` requests toward the upstream,
  a short bounded queue behind them, and 503 at once beyond it, rather than piling up.
* :class:`RateLimiter`: per API key, requests per minute and tokens per minute, as token
  buckets that refill continuously. Tokens are charged after a request, from its usage.

Both hold per-process state: with ``--workers N`` each worker enforces its own share.
A refusal raises an error carrying its reason; the core's measurement counts it, once.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

from llm_gateway.core.types import RateLimit, ShedReason
from llm_gateway.errors import Overloaded, RateLimited
from llm_gateway.metrics.recorder import Recorder

# What a shed request is told: the queue drains in moments, not minutes.
SHED_RETRY_AFTER_SECONDS = 1


class ConcurrencyLimiter:
    def __init__(self, limit: int, queue: int, queue_timeout: float, metrics: Recorder) -> None:
        self._slots = asyncio.Semaphore(limit)
        self._queue = queue
        self._queue_timeout = queue_timeout
        self._waiting = 0
        self._metrics = metrics

    async def acquire(self) -> None:
        """Take a slot, waiting in the queue if there is room; raise Overloaded otherwise."""
        if not self._slots.locked():
            await self._slots.acquire()  # a free slot: returns without waiting
            return
        if self._waiting >= self._queue:
            raise self._shed(ShedReason.QUEUE_FULL)
        self._waiting += 1
        self._metrics.queue_entered()
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._queue_timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise self._shed(ShedReason.QUEUE_TIMEOUT) from None
        finally:
            self._waiting -= 1
            self._metrics.queue_left(time.perf_counter() - started)

    def release(self) -> None:
        self._slots.release()

    @staticmethod
    def _shed(reason: ShedReason) -> Overloaded:
        return Overloaded(
            "The gateway is at capacity; retry shortly.",
            reason=reason,
            retry_after=SHED_RETRY_AFTER_SECONDS,
        )


class _Bucket:
    __slots__ = ("balance", "updated")

    def __init__(self, capacity: float, now: float) -> None:
        self.balance = capacity
        self.updated = now


class RateLimiter:
    """Requests and tokens per minute for each API key alias; 0 turns a budget off."""

    def __init__(
        self,
        requests_per_minute: int,
        tokens_per_minute: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._budgets = {
            RateLimit.REQUESTS: requests_per_minute,
            RateLimit.TOKENS: tokens_per_minute,
        }
        self._buckets: dict[tuple[str, RateLimit], _Bucket] = {}
        self._clock = clock

    def admit(self, client: str | None) -> None:
        """Spend one request of ``client``'s budget, or raise RateLimited (429)."""
        if client is None:
            return
        for limit in RateLimit:
            bucket = self._bucket(client, limit)
            # A request needs one unit; tokens need only a positive balance, as the
            # request's size is known only once it is answered.
            need = 1.0 if limit is RateLimit.REQUESTS else math.ulp(0)
            if bucket is not None and bucket.balance < need:
                per_second = self._budgets[limit] / 60
                wait = math.ceil((need - bucket.balance) / per_second)
                raise RateLimited(
                    f"API key {client!r} exceeded its {self._budgets[limit]} {limit} per "
                    f"minute; retry in {wait} s.",
                    client=client,
                    limit=limit,
                    retry_after=max(wait, 1),
                )
        requests = self._bucket(client, RateLimit.REQUESTS)
        if requests is not None:
            requests.balance -= 1

    def charge(self, client: str | None, tokens: int) -> None:
        """Spend the tokens a request used; the balance may go below zero."""
        if client is None:
            return
        bucket = self._bucket(client, RateLimit.TOKENS)
        if bucket is not None:
            bucket.balance -= tokens

    def _bucket(self, client: str, limit: RateLimit) -> _Bucket | None:
        capacity = self._budgets[limit]
        if not capacity:
            return None
        now = self._clock()
        bucket = self._buckets.get((client, limit))
        if bucket is None:
            bucket = self._buckets[(client, limit)] = _Bucket(capacity, now)
        bucket.balance = min(capacity, bucket.balance + (now - bucket.updated) * capacity / 60)
        bucket.updated = now
        return bucket
