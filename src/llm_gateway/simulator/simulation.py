"""What every route shares: the settings, the text model, the fault picker, the pacer and
the log of attempts; and how a fault shapes an answer, whatever the dialect."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from llm_gateway.faults import (
    DEFAULT_AFTER,
    DEFAULT_SLOW_FIRST_TOKEN_SECONDS,
    Fault,
    FaultRequest,
    UnknownFaultError,
)
from llm_gateway.simulator.attempts import Attempt, AttemptLog
from llm_gateway.simulator.faults import (
    RETRY_AFTER_FAULTS,
    STATUS_FAULTS,
    STREAM_FAULTS,
    FaultPicker,
)
from llm_gateway.simulator.pacing import Pacer
from llm_gateway.simulator.responses import (
    DelayedResponse,
    DropResponse,
    EventStreamResponse,
    HangResponse,
    ResetResponse,
)
from llm_gateway.simulator.settings import SimulatorSettings
from llm_gateway.simulator.textmodel import TextModel

# The faults an embeddings route cannot play: it has no context to exceed, no prompt to
# flag, no prefill to reject.
NOT_FOR_EMBEDDINGS = frozenset({Fault.CONTEXT_LENGTH, Fault.CONTENT_FILTER, Fault.REJECT_PREFILL})


class InvalidRequestError(ValueError):
    """The request is one a real server would refuse; routes render it in their dialect."""

    @classmethod
    def from_validation(cls, exc: ValidationError) -> InvalidRequestError:
        problems = []
        for error in exc.errors(include_url=False, include_input=False):
            where = ".".join(str(part) for part in error["loc"])
            problems.append(f"{where}: {error['msg']}" if where else error["msg"])
        return cls("; ".join(problems))


T = TypeVar("T")


async def read_request(
    request: Request, read: Callable[[bytes], T], refuse: Callable[[ValueError], Response]
) -> tuple[FaultRequest, T] | Response:
    """The request's fault header and its body read by ``read``, or ``refuse``'s answer
    (in the route's dialect) to an unknown fault or an invalid body."""
    try:
        body = read(await request.body())
        return FaultRequest.from_headers(request.headers, getattr(body, "model", None)), body
    except ValidationError as exc:
        return refuse(InvalidRequestError.from_validation(exc))
    except (UnknownFaultError, InvalidRequestError) as exc:
        return refuse(exc)


@dataclass(frozen=True, slots=True)
class Simulation:
    settings: SimulatorSettings
    text: TextModel
    faults: FaultPicker
    pacer: Pacer
    attempts: AttemptLog

    @classmethod
    def from_settings(cls, settings: SimulatorSettings) -> Simulation:
        return cls(
            settings=settings,
            text=TextModel(),
            faults=FaultPicker.from_settings(settings),
            pacer=Pacer(
                settings.time_to_first_token_seconds,
                settings.time_per_token_seconds,
                settings.jitter,
                random.Random(settings.seed),
            ),
            attempts=AttemptLog(),
        )

    def max_tokens(self, requested: int | None) -> int:
        if requested is None:
            return self.settings.max_tokens_default
        if requested > self.settings.max_tokens_limit:
            raise InvalidRequestError(
                f"max tokens must be at most {self.settings.max_tokens_limit}, got {requested}"
            )
        return requested

    def retry_after(self, fault: Fault, requested: FaultRequest) -> int | None:
        """The Retry-After seconds a status fault carries, if it carries one."""
        if fault not in RETRY_AFTER_FAULTS or requested.retry_after == "none":
            return None
        if requested.retry_after is not None:
            return requested.retry_after
        return self.settings.retry_after_seconds

    def fault_before_generation(
        self,
        requested: FaultRequest,
        attempt: Attempt,
        *,
        status_error: Callable[[Fault, int | None], Response],
        gave_up: Response,
        unplayable: frozenset[Fault] = frozenset(),
    ) -> tuple[Fault, Response | None]:
        """The fault this attempt gets, recorded with it, and the answer it makes before
        any generation.

        A fault the route cannot play (``unplayable``, a stream fault for a whole answer,
        ``reject_prefill`` without a prefill) is no fault. A status fault answers
        ``status_error(fault, retry_after)`` in the route's dialect; a hang waits, then
        answers ``gave_up``; a reset closes the connection; a drop or a stall of a whole
        answer sends its headers, then cuts the connection at once or after a silence.
        None: the request goes on (the other faults shape its answer: :meth:`stream`,
        :meth:`whole`).
        """
        fault = self.faults.pick(requested, attempt.model)
        if (
            fault in unplayable
            or (fault in STREAM_FAULTS and not attempt.stream)
            or (fault is Fault.REJECT_PREFILL and not attempt.prefill)
        ):
            fault = Fault.NONE
        self.attempts.record(requested.request_id, dataclasses.replace(attempt, fault=fault))
        if fault in STATUS_FAULTS:
            return fault, status_error(fault, self.retry_after(fault, requested))
        if fault is Fault.HANG:
            seconds = self.settings.hang_seconds if requested.seconds is None else requested.seconds
            return fault, HangResponse(seconds, then=gave_up)
        if fault is Fault.RESET:
            return fault, ResetResponse()
        if fault is Fault.DROP and not attempt.stream:
            return fault, DropResponse()
        if fault is Fault.STALL and not attempt.stream:
            return fault, DropResponse(silence=self.settings.hang_seconds)
        return fault, None

    def stream(
        self,
        fault: Fault,
        requested: FaultRequest,
        *,
        head: bytes,
        tokens: Sequence[bytes],
        tail: bytes,
        done: bytes,
        bad_frame: bytes,
    ) -> EventStreamResponse:
        """The event stream of ``tokens`` between ``head`` and ``tail`` (then ``done``, the
        dialect's last frame, if any), as ``fault`` spoils it: ``bad_frame`` (one frame that
        is not JSON) instead of the tokens (``malformed``) or among them, after ``after``
        token frames (``malformed_frame``); no ``done``; a slow first token; or a break after
        ``after`` token frames, the connection cut at once (``drop``) or once the client
        leaves (``stall``, bounded by ``hang_seconds``)."""
        after = DEFAULT_AFTER if requested.after is None else requested.after
        if fault is Fault.MALFORMED:
            tokens, tail = [bad_frame], b""
        elif fault is Fault.MALFORMED_FRAME:
            tokens = [*tokens[:after], bad_frame, *tokens[after:]]
        elif fault is Fault.NO_DONE:
            done = b""
        return EventStreamResponse(
            head=head,
            tokens=tokens,
            tail=tail + done,
            pacer=self.pacer,
            first_token_delay=self._first_token_delay(fault, requested),
            break_after=after if fault in (Fault.DROP, Fault.STALL) else None,
            silence=self.settings.hang_seconds if fault is Fault.STALL else 0.0,
        )

    def whole(
        self, fault: Fault, requested: FaultRequest, body: bytes, *, tokens: int, malformed: bytes
    ) -> DelayedResponse:
        """A whole answer of ``tokens`` tokens, sent once they are generated: ``body``, or
        ``malformed`` (a body that is not JSON) for that fault; later for a slow first
        token."""
        delay = self.pacer.whole(tokens, first=self._first_token_delay(fault, requested))
        return DelayedResponse(malformed if fault is Fault.MALFORMED else body, delay=delay)

    @staticmethod
    def _first_token_delay(fault: Fault, requested: FaultRequest) -> float | None:
        if fault is not Fault.SLOW_FIRST_TOKEN:
            return None
        if requested.seconds is None:
            return DEFAULT_SLOW_FIRST_TOKEN_SECONDS
        return requested.seconds
