"""A circuit per model: a model that keeps failing is skipped for a while.

After ``failures`` failed attempts in a row the model's circuit opens: for
``cooldown_seconds`` requests go straight to its fallbacks (a model with none is still
tried: see :mod:`llm_gateway.core.failover`). Then one request at a time is let through
as a probe (half-open): its success closes the circuit, its failure opens it for another
cool-down. Per worker, like the
pool's per-address breakers, which stay: those eject one server of an upstream, this
one a model, whichever server it is on. A rejected request (the client's fault) or a 429
(the upstream pushing back) is neither a success nor a failure of the model.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable


class State(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Circuit:
    __slots__ = ("_clock", "_cooldown", "_failures", "_in_a_row", "_opened_at", "_probing", "state")

    def __init__(
        self,
        failures: int,
        cooldown_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._failures = failures
        self._cooldown = cooldown_seconds
        self._clock = clock
        self._in_a_row = 0
        self._opened_at = 0.0
        self._probing = False
        self.state = State.CLOSED

    def allows(self) -> bool:
        """Whether an attempt may go to the model now; a half-open circuit lets one
        probe through at a time."""
        if self.state is State.CLOSED:
            return True
        if self.state is State.OPEN:
            if self._clock() - self._opened_at < self._cooldown:
                return False
            self.state = State.HALF_OPEN
        if self._probing:
            return False
        self._probing = True
        return True

    def succeeded(self) -> bool:
        """Record a success; True when it closed the circuit."""
        closed = self.state is not State.CLOSED
        self.state = State.CLOSED
        self._in_a_row = 0
        self._probing = False
        return closed

    def failed(self) -> bool:
        """Record a failure; True when it opened the circuit."""
        self._in_a_row += 1
        self._probing = False
        if self.state is State.OPEN:
            return False
        if self.state is State.HALF_OPEN or self._in_a_row >= self._failures:
            self.state = State.OPEN
            self._opened_at = self._clock()
            return True
        return False

    def released(self) -> None:
        """The probe ended neither way (a rejected request, a 429, a cancellation): let the
        next request probe."""
        self._probing = False
