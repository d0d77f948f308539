"""Protection of the upstream and of fairness between clients.

* :class:`ConcurrencyLimiter`: at most ``max_concurrency`` requests toward the upstream,
  a short bounded queue behind them, and 503 at once beyond it, rather than piling up.
* :class:`RateLimiter`: per API key, requests per minute and tokens per minute, as token
  buckets that refill continuously (:mod:`llm_gateway.core.buckets`). A request reserves
  its ``max_tokens`` and its prompt's estimate when admitted, and settles to its real
  usage when it ends, so concurrent long streams cannot overdraw a key by much.

The concurrency limiter is per process: with ``--workers N`` each worker, and each pod,
has its own slots and queue. The rate limits are too, unless their buckets live in Redis
(``LLM_GATEWAY_REDIS_URL``): then they hold across every worker and replica. While Redis
does not answer, the failure mode decides: ``open`` uses this worker's own buckets,
``closed`` refuses with 503. A refusal raises an error carrying its reason; the core's
measurement counts it, once.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from llm_gateway.core.buckets import (
    BucketStore,
    Draw,
    LocalBuckets,
    StoreOperation,
    StoreUnavailable,
)
from llm_gateway.core.metrics import Metrics
from llm_gateway.core.types import CompletionTask, EmbeddingTask, estimate_tokens
from llm_gateway.errors import (
    Overloaded,
    RateLimit,
    RateLimited,
    RateLimitStoreUnavailable,
    ShedReason,
)

logger = logging.getLogger("llm_gateway")

# What a shed request is told: the queue drains in moments, not minutes.
SHED_RETRY_AFTER_SECONDS = 1
# What a request refused for want of its rate-limit store is told: Redis reconnects at once.
STORE_RETRY_AFTER_SECONDS = 1
# While the store fails, one log line per interval, with the count of failures since.
STORE_LOG_INTERVAL_SECONDS = 60.0
# A request that sets no max_tokens reserves this many (the /generate default); a prompt
# reserves its estimate (estimate_tokens). Both settle to the real usage at the end.
DEFAULT_RESERVED_COMPLETION_TOKENS = 256


class FailureMode(enum.StrEnum):
    """What the rate limiter does while its Redis store does not answer."""

    OPEN = "open"  # fall back to per-worker buckets
    CLOSED = "closed"  # refuse with 503


class ConcurrencyLimiter:
    def __init__(self, limit: int, queue: int, queue_timeout: float, metrics: Metrics) -> None:
        self._slots = asyncio.Semaphore(limit)
        self._queue = queue
        self._queue_timeout = queue_timeout
        self._waiting = 0
        self._metrics = metrics

    async def acquire(self) -> float | None:
        """Take a slot, waiting in the queue if there is room; raise Overloaded otherwise.

        The seconds waited in the queue; None when a slot was free.
        """
        if not self._slots.locked():
            await self._slots.acquire()  # a free slot: returns without waiting
            return None
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
            waited = time.perf_counter() - started
            self._metrics.queue_left(waited)
        return waited

    def release(self) -> None:
        self._slots.release()

    @staticmethod
    def _shed(reason: ShedReason) -> Overloaded:
        return Overloaded(
            "The gateway is at capacity; retry shortly.",
            reason=reason,
            retry_after=SHED_RETRY_AFTER_SECONDS,
        )


@dataclass(frozen=True, slots=True)
class Reservation:
    """What an admitted request holds: its reserved tokens, in the store that admitted it."""

    client: str
    tokens: int  # 0 without a tokens budget
    store: BucketStore


class RateLimiter:
    """Requests and tokens per minute for each API key alias; 0 turns a budget off."""

    def __init__(
        self,
        requests_per_minute: int,
        tokens_per_minute: int,
        metrics: Metrics,
        store: BucketStore | None = None,
        failure_mode: FailureMode = FailureMode.OPEN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._requests_per_minute = requests_per_minute
        self._tokens_per_minute = tokens_per_minute
        self._metrics = metrics
        self._local = LocalBuckets(clock)
        self._store = store or self._local
        self._failure_mode = failure_mode
        self._clock = clock
        self._settling: set[asyncio.Task[None]] = set()
        self._failing = False
        self._logged_at: float | None = None
        self._failures_unlogged = 0

    async def admit(self, request: CompletionTask | EmbeddingTask) -> Reservation | None:
        """Spend one request and reserve the tokens of ``request``, or raise RateLimited (429)."""
        client = request.client
        if client is None or not (self._requests_per_minute or self._tokens_per_minute):
            return None
        draws, tokens = self._draws(client, request)
        store = self._store
        try:
            refusal = await store.take(draws)
        except StoreUnavailable as exc:
            self._store_failed(StoreOperation.TAKE, exc)
            if self._failure_mode is FailureMode.CLOSED:
                raise RateLimitStoreUnavailable(
                    "The rate-limit store does not answer; retry shortly.",
                    retry_after=STORE_RETRY_AFTER_SECONDS,
                ) from None
            store = self._local
            refusal = await store.take(draws)
        else:
            self._store_answered()
        if refusal is not None:
            wait = max(1, math.ceil(refusal.wait_seconds))
            raise RateLimited(
                f"API key {client!r} exceeded its {refusal.capacity} {refusal.limit} per "
                f"minute; retry in {wait} s.",
                client=client,
                limit=refusal.limit,
                retry_after=wait,
            )
        return Reservation(client, tokens, store)

    def settle(self, reservation: Reservation | None, used_tokens: int) -> None:
        """Put back the reserved tokens a request did not use, or take those it used beyond.

        Does not wait for Redis: the response is not held back for it.
        """
        if reservation is None or reservation.tokens in (0, used_tokens):
            return
        units = reservation.tokens - used_tokens
        if reservation.store is self._local:
            self._local.give_now(
                reservation.client, RateLimit.TOKENS, self._tokens_per_minute, units
            )
            return
        task = asyncio.ensure_future(self._give(reservation.client, units))
        self._settling.add(task)
        task.add_done_callback(self._settling.discard)

    async def close(self) -> None:
        # Each settlement is bounded by the store's timeout.
        await asyncio.gather(*self._settling)
        await self._store.close()

    def _draws(
        self, client: str, request: CompletionTask | EmbeddingTask
    ) -> tuple[list[Draw], int]:
        draws = []
        if self._requests_per_minute:
            draws.append(Draw(client, RateLimit.REQUESTS, self._requests_per_minute, 1, 1))
        tokens = 0
        if self._tokens_per_minute:
            # Embeddings generate nothing: only their prompt is reserved.
            completion = (
                request.max_tokens or DEFAULT_RESERVED_COMPLETION_TOKENS
                if isinstance(request, CompletionTask)
                else 0
            )
            tokens = completion + estimate_tokens(request.prompt_chars)
            # A request larger than the whole budget is admitted on a full bucket.
            need = min(tokens, self._tokens_per_minute)
            draws.append(Draw(client, RateLimit.TOKENS, self._tokens_per_minute, need, tokens))
        return draws, tokens

    async def _give(self, client: str, units: int) -> None:
        try:
            await self._store.give(client, RateLimit.TOKENS, self._tokens_per_minute, units)
        except StoreUnavailable as exc:
            self._store_failed(StoreOperation.GIVE, exc)
        else:
            self._store_answered()

    def _store_failed(self, operation: StoreOperation, exc: StoreUnavailable) -> None:
        self._metrics.rate_limit_store_error(operation, exc.reason)
        self._failing = True
        self._failures_unlogged += 1
        now = self._clock()
        if self._logged_at is not None and now - self._logged_at < STORE_LOG_INTERVAL_SECONDS:
            return
        fallback = "per-worker buckets" if self._failure_mode is FailureMode.OPEN else "503"
        logger.warning(
            "rate-limit store unavailable: %d failed round trip(s), the last a %s on %s; "
            "requests get %s until it answers",
            self._failures_unlogged,
            exc.reason,
            operation,
            fallback,
        )
        self._logged_at = now
        self._failures_unlogged = 0

    def _store_answered(self) -> None:
        if self._failing:
            logger.info("rate-limit store answers again: limits hold across replicas again")
            self._failing = False
            self._logged_at = None
            self._failures_unlogged = 0
