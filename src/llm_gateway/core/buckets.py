"""Token buckets that refill continuously, and where they are kept.

A bucket holds up to ``capacity`` units and refills at ``capacity`` per minute, so a key
can never spend more than its budget over any minute-long window (a fixed one-minute
window would admit twice the budget across a window boundary). A :class:`BucketStore`
takes from several buckets at once, all or none:

* :class:`LocalBuckets`, here: in this worker's memory, so each worker (and each replica)
  has its own buckets;
* :class:`~llm_gateway.core.redis_buckets.RedisBuckets`: in Redis, shared by every worker
  and replica, updated by a script that runs atomically on the server, on its clock.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from llm_gateway.errors import RateLimit


class StoreOperation(enum.StrEnum):
    """A round trip to the rate-limit store: admit a request, or settle its tokens."""

    TAKE = "take"
    GIVE = "give"


class StoreFailure(enum.StrEnum):
    """Why a round trip to the rate-limit store failed."""

    TIMEOUT = "timeout"
    CONNECTION = "connection"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Draw:
    """Take ``cost`` units from ``client``'s ``limit`` bucket if it holds at least ``need``.

    ``cost`` may exceed ``need``: a request larger than the whole budget is admitted on a
    full bucket, leaves it below zero, and the key then waits for the refill.
    """

    client: str
    limit: RateLimit
    capacity: int  # per minute
    need: float
    cost: float


@dataclass(frozen=True, slots=True)
class Refusal:
    """The draw that could not be met, and how long until it could be."""

    limit: RateLimit
    capacity: int
    wait_seconds: float


class StoreUnavailable(Exception):
    """The store did not answer in time, or not at all; ``reason`` labels the metric."""

    def __init__(self, reason: StoreFailure) -> None:
        super().__init__(reason)
        self.reason = reason


class BucketStore(Protocol):
    async def take(self, draws: Sequence[Draw]) -> Refusal | None:
        """Spend every draw's cost, or none of them: the first draw refused, if any."""
        ...

    async def give(self, client: str, limit: RateLimit, capacity: int, units: float) -> None:
        """Put ``units`` back (negative: take more), never above the capacity."""
        ...

    async def close(self) -> None: ...


def wait_seconds(draw: Draw, balance: float) -> float:
    """How long ``draw`` waits for a bucket at ``balance`` to refill to its need."""
    return (draw.need - balance) * 60 / draw.capacity


class LocalBuckets:
    """Buckets in this worker's memory."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._buckets: dict[tuple[str, RateLimit], tuple[float, float]] = {}
        self._clock = clock

    async def take(self, draws: Sequence[Draw]) -> Refusal | None:
        now = self._clock()
        balances = [self._balance(draw.client, draw.limit, draw.capacity, now) for draw in draws]
        for draw, balance in zip(draws, balances, strict=True):
            if balance < draw.need:
                return Refusal(draw.limit, draw.capacity, wait_seconds(draw, balance))
        for draw, balance in zip(draws, balances, strict=True):
            self._buckets[(draw.client, draw.limit)] = (balance - draw.cost, now)
        return None

    async def give(self, client: str, limit: RateLimit, capacity: int, units: float) -> None:
        self.give_now(client, limit, capacity, units)

    def give_now(self, client: str, limit: RateLimit, capacity: int, units: float) -> None:
        now = self._clock()
        balance = self._balance(client, limit, capacity, now)
        self._buckets[(client, limit)] = (min(capacity, balance + units), now)

    async def close(self) -> None:
        return None

    def _balance(self, client: str, limit: RateLimit, capacity: int, now: float) -> float:
        balance, updated = self._buckets.get((client, limit), (capacity, now))
        return min(capacity, balance + (now - updated) * capacity / 60)
