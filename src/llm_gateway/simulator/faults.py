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
from collections.abc import Mapping

from llm_gateway.simulator.settings import SimulatorSettings

FAULT_HEADER = "x-simulator-fault"


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
    def __init__(self, value: str) -> None:
        known = ", ".join(fault.value for fault in Fault)
        super().__init__(f"Unknown X-Simulator-Fault {value!r}; expected one of: {known}.")


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

    def pick(self, requested: Fault | None) -> Fault:
        if requested is not None:
            return requested
        # No faults configured: skip the draw, the common case for benchmarks.
        if not self._thresholds:
            return Fault.NONE
        draw = self._rng.random()
        for threshold, fault in self._thresholds:
            if draw < threshold:
                return fault
        return Fault.NONE
