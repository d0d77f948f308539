"""The fault-header contract between the gateway and the simulator: ``X-Simulator-*``.

A request's ``X-Simulator-Fault`` header names one exact fault, with parameters::

    X-Simulator-Fault: <fault>[; <key>=<value>]...

(case and whitespace around names, keys and values are free). Any fault takes ``model=<id>``
(it strikes only requests for that model: others meet no fault and are not counted by
``X-Simulator-Fault-Times``), ``until=<unix time>`` (only while the wall clock is before it)
and ``period=<seconds>`` (only in the first half of each period of wall time: a flapping
upstream). ``drop``, ``stall`` and ``malformed_frame`` take ``after=<token frames>``, the
token frames sent before the fault (default :data:`DEFAULT_AFTER`); ``slow_first_token``
takes ``seconds=``, the delay before the first token (default
:data:`DEFAULT_SLOW_FIRST_TOKEN_SECONDS`), and ``hang`` the time before it gives up with a
504 (default: the simulator's ``hang_seconds``); ``rate_limit`` and ``unavailable`` take
``retry_after=<whole seconds>|none`` (``none``: no ``Retry-After`` header at all).
``X-Simulator-Fault-Times`` limits the fault to the first attempts of one request id.
The simulator reads them (:mod:`llm_gateway.simulator.faults` draws a fault from the
configured rates when none is named); the gateway checks them and forwards them when its
upstream is the simulator. Imports nothing of the gateway's, so the request path loads no
simulator code.

What the client libraries raise for each fault, pinned by
``tests/integration/simulator/test_faults.py`` (huggingface_hub 2.4 over httpx2; openai
3.x, which also rides on httpx2, with ``max_retries=0``). Streamed or not, each fault raises
the same type unless a note says otherwise; only where differs (see the last point below).
"-": the fault does not apply there, so nothing is raised.

================  ==========================  ==========================  ========================
fault             hf chat_completion          hf text_generation          openai chat
================  ==========================  ==========================  ========================
rate_limit        HfHubHTTPError              OverloadedError             RateLimitError
server_error      HfHubHTTPError              IncompleteGenerationError   InternalServerError
unavailable       HfHubHTTPError              UnknownError                InternalServerError
hang              InferenceTimeoutError       InferenceTimeoutError       APITimeoutError
drop              httpx2.RemoteProtocolError  httpx2.RemoteProtocolError  APIConnectionError
malformed         json.JSONDecodeError        json.JSONDecodeError        json.JSONDecodeError
slow_first_token  InferenceTimeoutError [1]   InferenceTimeoutError [1]   APITimeoutError
stall             InferenceTimeoutError [1]   InferenceTimeoutError [1]   APITimeoutError
malformed_frame   json.JSONDecodeError [2]    json.JSONDecodeError [2]    json.JSONDecodeError [2]
no_done           nothing                     -                           nothing
context_length    BadRequestError             ValidationError             BadRequestError
content_filter    BadRequestError             -                           BadRequestError
reject_prefill    BadRequestError [3]         -                           BadRequestError [3]
reset             httpx2.RemoteProtocolError  httpx2.RemoteProtocolError  APIConnectionError
================  ==========================  ==========================  ========================

[1] Streamed, huggingface_hub raises ``httpx2.ReadTimeout`` itself, unwrapped. [2] Streams
only: a whole answer meets no fault. [3] Only for a request with a prefill; without one,
no fault.

Worth knowing when mapping them:

* ``text_generation``'s ``OverloadedError``, ``IncompleteGenerationError``,
  ``UnknownError`` and ``ValidationError`` (picked from the TGI ``error_type``) are *not*
  ``HfHubHTTPError``; the ``HfHubHTTPError`` with ``.response`` (status, ``Retry-After``)
  is their ``__cause__``. huggingface_hub's ``BadRequestError`` (a 400) is one.
* Every huggingface_hub error above except ``JSONDecodeError`` is an ``httpx2.HTTPError``;
  ``InferenceTimeoutError`` is also a ``TimeoutError``. A malformed body escapes as a bare
  ``ValueError`` subclass from both libraries.
* A hang, a slow first token or a stall raises only if the client's timeout is shorter:
  ``AsyncInferenceClient``'s default is none, so without one a hang waits ``seconds`` and
  then gets a 504, a slow first token is only slow, and a stall waits ``hang_seconds`` and
  then loses the connection.
* For streams, status faults, resets and hangs raise from the call; drops, stalls, slow
  first tokens (a stream's headers come at once) and malformed frames surface
  mid-iteration, after any tokens before them were yielded. A stream without
  ``data: [DONE]`` ends cleanly for both libraries, its finish reason (and usage) received.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

FAULT_HEADER = "x-simulator-fault"
# With a fault header: apply it to the first N requests that carry the same X-Request-Id
# only, so a retrying client (the gateway forwards its request id on every attempt) can be
# shown recovering.
FAULT_TIMES_HEADER = "x-simulator-fault-times"
REQUEST_ID_HEADER = "x-request-id"
# The most attempts X-Simulator-Fault-Times may name, through the gateway.
MAX_FAULT_TIMES = 100
# Token frames a broken stream sends before the fault, unless ``after=`` says otherwise.
DEFAULT_AFTER = 3
# How long a slow first token takes, unless ``seconds=`` says otherwise.
DEFAULT_SLOW_FIRST_TOKEN_SECONDS = 10.0


class Fault(enum.StrEnum):
    NONE = "none"
    RATE_LIMIT = "rate_limit"
    SERVER_ERROR = "server_error"
    UNAVAILABLE = "unavailable"
    HANG = "hang"
    DROP = "drop"
    MALFORMED = "malformed"
    SLOW_FIRST_TOKEN = "slow_first_token"
    STALL = "stall"
    MALFORMED_FRAME = "malformed_frame"
    NO_DONE = "no_done"
    CONTEXT_LENGTH = "context_length"
    CONTENT_FILTER = "content_filter"
    REJECT_PREFILL = "reject_prefill"
    RESET = "reset"


# The parameters every fault takes: which requests it strikes.
TARGETING_PARAMETERS = ("model", "until", "period")
# The parameters some faults take besides: how they strike.
FAULT_PARAMETERS: Mapping[Fault, tuple[str, ...]] = {
    Fault.DROP: ("after",),
    Fault.STALL: ("after",),
    Fault.MALFORMED_FRAME: ("after",),
    Fault.SLOW_FIRST_TOKEN: ("seconds",),
    Fault.HANG: ("seconds",),
    Fault.RATE_LIMIT: ("retry_after",),
    Fault.UNAVAILABLE: ("retry_after",),
}


class UnknownFaultError(ValueError):
    """A bad ``X-Simulator-*`` header: the simulator answers 400, the gateway too."""

    def __init__(
        self, value: str, header: str = "X-Simulator-Fault", *, problem: str | None = None
    ) -> None:
        if problem is not None:
            message = f"Bad {header} {value!r}: {problem}"
        elif header == "X-Simulator-Fault":
            names = ", ".join(fault.value for fault in Fault)
            message = f"Unknown {header} {value!r}; expected one of: {names}."
        else:
            message = f"Unknown {header} {value!r}; expected a positive integer."
        super().__init__(message)
        self.header = header


def _text(raw: str) -> str:
    return raw


def _count(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()):
        raise ValueError
    return int(raw)


def _seconds(raw: str) -> float:
    value = float(raw)
    if not math.isfinite(value) or value < 0:
        raise ValueError
    return value


def _period(raw: str) -> float:
    value = _seconds(raw)
    if value == 0:
        raise ValueError
    return value


def _retry_after(raw: str) -> int | Literal["none"]:
    return "none" if raw.lower() == "none" else _count(raw)


# Each parameter: how its value is read, and what it expects (for the error message).
_PARAMETERS: Mapping[str, tuple[Callable[[str], Any], str]] = {
    "model": (_text, "a model id"),
    "until": (_seconds, "a unix time in seconds"),
    "period": (_period, "a number of seconds above 0"),
    "after": (_count, "a whole number of token frames"),
    "seconds": (_seconds, "a number of seconds, 0 or more"),
    "retry_after": (_retry_after, "whole seconds, or none"),
}


@dataclass(frozen=True, slots=True)
class FaultRequest:
    """What a request's headers ask for: a fault and its parameters, optionally for its
    first attempts only. A parameter left out is ``None``: the simulator's default."""

    fault: Fault | None = None
    times: int | None = None
    request_id: str | None = None
    model: str | None = None
    until: float | None = None
    period: float | None = None
    after: int | None = None
    seconds: float | None = None
    retry_after: int | Literal["none"] | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str], model: str | None = None) -> FaultRequest:
        """The fault the headers ask of a request for ``model``: the header may list several,
        comma-separated, each for its own ``model=`` (a primary's cut stream, and its
        fallback refusing the prefill of the continuation)."""
        times = headers.get(FAULT_TIMES_HEADER)
        if times is not None and (not times.strip().isdigit() or int(times) < 1):
            raise UnknownFaultError(times, header="X-Simulator-Fault-Times")
        value = headers.get(FAULT_HEADER)
        specs = [] if value is None else [parse_fault(spec) for spec in value.split(",")]
        # The first fault meant for the model (any, when the route names none).
        fault, parameters = next(
            (spec for spec in specs if model is None or spec[1].get("model") in (None, model)),
            (None, {}),
        )
        return cls(
            fault=fault,
            times=None if times is None else int(times),
            request_id=headers.get(REQUEST_ID_HEADER),
            **parameters,
        )

    def targets(self, model: str | None) -> bool:
        """Whether the fault is meant for a request for ``model``."""
        return self.model is None or self.model == model

    def in_window(self, now: float) -> bool:
        """Whether the fault strikes at wall time ``now``."""
        if self.until is not None and now >= self.until:
            return False
        return self.period is None or now % self.period < self.period / 2


def parse_fault(value: str) -> tuple[Fault, dict[str, Any]]:
    """Read a fault header: the fault, and its parameters by name."""
    name, *pairs = value.split(";")
    try:
        fault = Fault(name.strip().lower())
    except ValueError:
        raise UnknownFaultError(value) from None
    allowed = (*TARGETING_PARAMETERS, *FAULT_PARAMETERS.get(fault, ()))
    parameters: dict[str, Any] = {}
    for pair in pairs:
        if not pair.strip():
            continue
        key, sep, raw = (part.strip() for part in pair.partition("="))
        key = key.lower()
        if not sep or not key or not raw:
            raise UnknownFaultError(value, problem=f"{pair.strip()!r} is not key=value.")
        if key not in allowed:
            problem = f"{fault} takes no {key!r}; it takes: {', '.join(allowed)}."
            raise UnknownFaultError(value, problem=problem)
        if key in parameters:
            raise UnknownFaultError(value, problem=f"{key!r} is given twice.")
        read, expected = _PARAMETERS[key]
        try:
            parameters[key] = read(raw)
        except ValueError:
            problem = f"{key}={raw} is not {expected}."
            raise UnknownFaultError(value, problem=problem) from None
    return fault, parameters
