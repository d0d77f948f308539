"""When to try the upstream again: exponential backoff with full jitter, bounded.

Only failures that happen before any byte reached the client are retried (the core never
retries a stream that has started): upstream 429 (after its Retry-After, when that is
short enough), 502/503/504, connection failures and timeouts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from llm_gateway.errors import (
    UpstreamError,
    UpstreamRateLimited,
    UpstreamServerError,
    UpstreamTimeout,
    UpstreamUnreachable,
)

RETRYABLE_STATUSES = frozenset({502, 503, 504})


def retryable(error: UpstreamError) -> bool:
    if isinstance(error, UpstreamRateLimited | UpstreamTimeout | UpstreamUnreachable):
        return True
    return isinstance(error, UpstreamServerError) and error.upstream_status in RETRYABLE_STATUSES


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int
    backoff_seconds: float
    max_backoff_seconds: float
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def delay(self, attempt: int, error: UpstreamError) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``; None when not to try again."""
        if attempt >= self.attempts or not retryable(error):
            return None
        if isinstance(error, UpstreamRateLimited) and error.retry_after is not None:
            wait = error.retry_after
            return wait if wait <= self.max_backoff_seconds else None
        ceiling = min(self.max_backoff_seconds, self.backoff_seconds * 2 ** (attempt - 1))
        return self.rng.uniform(0, ceiling)
