"""A model's resilience policy: when to try it again, when to move on, how long to wait.

Each model of the routing table has one (:class:`Policy`; the table's ``resilience``
entries override the defaults). An upstream failure before any byte reached the client
is, by :func:`decision`:

* retried on the same model (after a backoff with full jitter above a minimum first
  gap, or the upstream's Retry-After when it is short enough): a status in
  ``retry_statuses``, a refused or dropped connection, an unreadable answer;
* failed over at once to the next model of the chain: a silent route (no headers, no
  first token, the upstream timeout) unless ``retry_timeouts``, a 429 whose Retry-After
  is too long, any other upstream failure the client cannot fix;
* or sent to the model of its error class (:data:`ERROR_CLASSES`:
  ``context_length_exceeded`` to a larger-context model), and otherwise returned: a
  request the upstream rejected is the client's to fix, never retried.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass, field

from llm_gateway.errors import (
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
)

# Transient by nature: a reset connection, a server restarting, a proxy with no upstream.
DEFAULT_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class ErrorClass(enum.StrEnum):
    """A rejection another model may still serve."""

    CONTEXT_WINDOW = "context_window"
    CONTENT_POLICY = "content_policy"


# The upstream codes of each class (the boundary turns vLLM's, llama.cpp's and TGI's
# wordings of a too-long prompt into OpenAI's ``context_length_exceeded``).
ERROR_CLASSES = {
    "context_length_exceeded": ErrorClass.CONTEXT_WINDOW,
    "content_policy_violation": ErrorClass.CONTENT_POLICY,
    "content_filter": ErrorClass.CONTENT_POLICY,
}


def error_class(error: UpstreamError) -> ErrorClass | None:
    if not isinstance(error, UpstreamRejected):
        return None
    return ERROR_CLASSES.get(error.code)


class Next(enum.Enum):
    """What follows a failed attempt."""

    RETRY = "retry"  # the same model again
    FAIL_OVER = "fail_over"  # the next model of the chain
    STOP = "stop"  # the client gets the error (or its class's model is tried)


@dataclass(frozen=True, slots=True)
class Policy:
    """One model's resilience settings; the defaults suit streamed chat (the README's
    resilience section says why each is what it is)."""

    attempts: int = 3
    retry_statuses: frozenset[int] = DEFAULT_RETRY_STATUSES
    backoff_seconds: float = 0.25
    min_backoff_seconds: float = 0.1
    max_backoff_seconds: float = 5.0
    header_timeout_seconds: float = 10.0
    first_token_timeout_seconds: float = 15.0
    stall_timeout_seconds: float = 5.0
    retry_timeouts: bool = False
    max_skipped_frames: int = 3
    circuit_failures: int = 5
    circuit_cooldown_seconds: float = 30.0
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def decision(self, error: UpstreamError) -> Next:
        """What to do after ``error``, before counting attempts."""
        if isinstance(error, UpstreamRejected):
            return Next.STOP
        if isinstance(error, UpstreamTimeout):
            return Next.RETRY if self.retry_timeouts else Next.FAIL_OVER
        if error.upstream_status is not None and error.upstream_status not in (self.retry_statuses):
            return Next.FAIL_OVER
        return Next.RETRY

    def delay(self, attempt: int, error: UpstreamError) -> float | None:
        """Seconds to wait before attempt ``attempt + 1`` on the same model; None when
        the model is done with (fail over, or stop)."""
        if attempt >= self.attempts or self.decision(error) is not Next.RETRY:
            return None
        if isinstance(error, UpstreamRateLimited) and error.retry_after is not None:
            wait = error.retry_after
            return wait if wait <= self.max_backoff_seconds else None
        ceiling = min(self.max_backoff_seconds, self.backoff_seconds * 2 ** (attempt - 1))
        floor = min(self.min_backoff_seconds, ceiling)
        return self.rng.uniform(floor, ceiling)


DEFAULT_POLICY = Policy()
