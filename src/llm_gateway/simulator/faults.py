"""Which fault, if any, a generation request suffers.

A request's ``X-Simulator-Fault`` header names one exact fault and overrides the configured
rates (the header contract, and what client libraries raise for each fault, are in
:mod:`llm_gateway.faults`); without it, one draw from the fault RNG picks a fault with the
configured rates.
"""

from __future__ import annotations

import random
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping

from llm_gateway.faults import Fault, FaultRequest
from llm_gateway.simulator.settings import SimulatorSettings

# Request ids remembered for X-Simulator-Fault-Times; the oldest are forgotten first.
MAX_TRACKED_REQUESTS = 10_000

# Faults answered with an error status before any generation happens; each dialect says
# which status and body.
STATUS_FAULTS = frozenset(
    {
        Fault.RATE_LIMIT,
        Fault.SERVER_ERROR,
        Fault.UNAVAILABLE,
        Fault.CONTEXT_LENGTH,
        Fault.CONTENT_FILTER,
        Fault.REJECT_PREFILL,
    }
)
RETRY_AFTER_FAULTS = frozenset({Fault.RATE_LIMIT, Fault.UNAVAILABLE})
# Faults only a stream can play: a whole answer has no frames to spoil.
STREAM_FAULTS = frozenset({Fault.MALFORMED_FRAME, Fault.NO_DONE})


class FaultPicker:
    """Draws faults with fixed rates from its own RNG, so a seed replays the same sequence."""

    def __init__(
        self,
        rates: Mapping[Fault, float],
        rng: random.Random,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._thresholds: list[tuple[float, Fault]] = []
        cumulative = 0.0
        for fault, rate in rates.items():
            if rate > 0:
                cumulative += rate
                self._thresholds.append((cumulative, fault))
        self._rng = rng
        self._clock = clock
        self._seen: OrderedDict[str, int] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: SimulatorSettings) -> FaultPicker:
        rates = {
            Fault.RATE_LIMIT: settings.rate_limit_rate,
            Fault.SERVER_ERROR: settings.server_error_rate,
            Fault.UNAVAILABLE: settings.unavailable_rate,
            Fault.HANG: settings.hang_rate,
            Fault.DROP: settings.drop_rate,
            Fault.MALFORMED: settings.malformed_rate,
        }
        return cls(rates, random.Random(settings.seed))

    def pick(self, requested: FaultRequest, model: str | None = None) -> Fault:
        """The fault a request for ``model`` suffers: the header's, if it targets the model
        and strikes this attempt, now; else a draw from the rates."""
        if requested.fault is not None:
            if not requested.targets(model):
                return Fault.NONE
            if requested.times is not None and requested.request_id is not None:
                if self._count(requested.request_id) > requested.times:
                    return Fault.NONE
            return requested.fault if requested.in_window(self._clock()) else Fault.NONE
        # No faults configured: skip the draw, the common case for benchmarks.
        if not self._thresholds:
            return Fault.NONE
        draw = self._rng.random()
        for threshold, fault in self._thresholds:
            if draw < threshold:
                return fault
        return Fault.NONE

    def _count(self, request_id: str) -> int:
        """How many times this request id has now been seen, this time included."""
        seen = self._seen.pop(request_id, 0) + 1
        self._seen[request_id] = seen
        if len(self._seen) > MAX_TRACKED_REQUESTS:
            self._seen.popitem(last=False)
        return seen
