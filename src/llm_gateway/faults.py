"""The fault-header contract between the gateway and the simulator: ``X-Simulator-*``.

A request's ``X-Simulator-Fault`` header names one exact fault, ``X-Simulator-Fault-Times``
limits it to the first attempts of one request id. The simulator reads them
(:mod:`llm_gateway.simulator.faults` draws a fault from the configured rates when none is
named); the gateway checks them and forwards them when its upstream is the simulator.
Imports nothing of the gateway's, so the request path loads no simulator code.

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
from collections.abc import Mapping
from dataclasses import dataclass

FAULT_HEADER = "x-simulator-fault"
# With a fault header: apply it to the first N requests that carry the same X-Request-Id
# only, so a retrying client (the gateway forwards its request id on every attempt) can be
# shown recovering.
FAULT_TIMES_HEADER = "x-simulator-fault-times"
REQUEST_ID_HEADER = "x-request-id"
# The most attempts X-Simulator-Fault-Times may name, through the gateway.
MAX_FAULT_TIMES = 100


class Fault(enum.StrEnum):
    NONE = "none"
    RATE_LIMIT = "rate_limit"
    SERVER_ERROR = "server_error"
    UNAVAILABLE = "unavailable"
    HANG = "hang"
    DROP = "drop"
    MALFORMED = "malformed"


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
