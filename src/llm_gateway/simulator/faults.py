"""Which fault, if any, a generation request suffers.

A request's ``X-Simulator-Fault`` header names one exact fault and overrides the configured
rates; without it, one draw from the fault RNG picks a fault with the configured rates.

What the client libraries raise for each fault, pinned by
``tests/integration/simulator/test_faults.py`` (huggingface_hub 2.4 over httpx2; openai 3.x,
which also rides on httpx2, with ``max_retries=0``). Streamed or not, each fault raises the
same type; only where differs (see the last point below).

============  ==========================  ==========================  ===================
fault         hf chat_completion          hf text_generation          openai chat
============  ==========================  ==========================  ===================
rate_limit    HfHubHTTPError              OverloadedError             RateLimitError
server_error  HfHubHTTPError              IncompleteGenerationError   InternalServerError
unavailable   HfHubHTTPError              UnknownError                InternalServerError
hang          InferenceTimeoutError       InferenceTimeoutError       APITimeoutError
drop          httpx2.RemoteProtocolError  httpx2.RemoteProtocolError  APIConnectionError
malformed     json.JSONDecodeError        json.JSONDecodeError        json.JSONDecodeError
============  ==========================  ==========================  ===================

Worth knowing when mapping them:

* ``text_generation``'s ``OverloadedError``, ``IncompleteGenerationError`` and
  ``UnknownError`` (picked from the TGI ``error_type``) are *not* ``HfHubHTTPError``; the
  ``HfHubHTTPError`` with ``.response`` (status, ``Retry-After``) is their ``__cause__``.
* Every huggingface_hub error above except ``JSONDecodeError`` is an ``httpx2.HTTPError``;
  ``InferenceTimeoutError`` is also a ``TimeoutError``. A malformed body escapes as a bare
  ``ValueError`` subclass from both libraries.
* A hang raises only if the client has a timeout: ``AsyncInferenceClient``'s default is none,
  so without one the call waits ``hang_seconds`` and then gets a 504.
* For streams, status faults and hangs raise from the call; drops and malformed frames
  surface mid-iteration, after tokens were already yielded.
"""

from __future__ import annotations

import enum
import random
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

from llm_gateway.simulator.settings import SimulatorSettings

FAULT_HEADER = "x-simulator-fault"
# With a fault header: apply it to the first N requests that carry the same X-Request-Id
# only, so a retrying client (the gateway forwards its request id on every attempt) can be
# shown recovering.
FAULT_TIMES_HEADER = "x-simulator-fault-times"
REQUEST_ID_HEADER = "x-request-id"
# Request ids remembered for FAULT_TIMES_HEADER; the oldest are forgotten first.
MAX_TRACKED_REQUESTS = 10_000


class Fault(enum.StrEnum):
    NONE = "none"
    RATE_LIMIT = "rate_limit"
    SERVER_ERROR = "server_error"
    UNAVAILABLE = "unavailable"
    HANG = "hang"
    DROP = "drop"
    MALFORMED = "malformed"


# Faults answered with an error status before any generation happens.
STATUS_FAULTS: Mapping[Fault, int] = {
    Fault.RATE_LIMIT: 429,
    Fault.SERVER_ERROR: 500,
    Fault.UNAVAILABLE: 503,
}
RETRY_AFTER_FAULTS = frozenset({Fault.RATE_LIMIT, Fault.UNAVAILABLE})


class UnknownFaultError(ValueError):
    def __init__(self, value: str, header: str = "X-Simulator-Fault") -> None:
        if header == "X-Simulator-Fault":
            expected = "one of: " + ", ".join(fault.value for fault in Fault)
        else:
            expected = "a positive integer"
        super().__init__(f"Unknown {header} {value!r}; expected {expected}.")
        self.header = header


@dataclass(frozen=True, slots=True)
class FaultRequest:
    """What a request's headers ask for: a fault, optionally for its first attempts only."""

    fault: Fault | None = None
    times: int | None = None
    request_id: str | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> FaultRequest:
        times = headers.get(FAULT_TIMES_HEADER)
        if times is not None and (not times.strip().isdigit() or int(times) < 1):
            raise UnknownFaultError(times, header="X-Simulator-Fault-Times")
        return cls(
            fault=parse_fault(headers.get(FAULT_HEADER)),
            times=None if times is None else int(times),
            request_id=headers.get(REQUEST_ID_HEADER),
        )


def parse_fault(value: str | None) -> Fault | None:
    """Read the fault header; ``None`` when absent, so the rates decide."""
    if value is None:
        return None
    try:
        return Fault(value.strip().lower())
    except ValueError:
        raise UnknownFaultError(value) from None


class FaultPicker:
    """Draws faults with fixed rates from its own RNG, so a seed replays the same sequence."""

    def __init__(self, rates: Mapping[Fault, float], rng: random.Random) -> None:
        self._thresholds: list[tuple[float, Fault]] = []
        cumulative = 0.0
        for fault, rate in rates.items():
            if rate > 0:
                cumulative += rate
                self._thresholds.append((cumulative, fault))
        self._rng = rng
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

    def pick(self, requested: FaultRequest) -> Fault:
        if requested.fault is not None:
            if requested.times is not None and requested.request_id is not None:
                seen = self._count(requested.request_id)
                return requested.fault if seen <= requested.times else Fault.NONE
            return requested.fault
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
