"""What every route shares: the settings, the text model, the fault picker and the pacer."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from llm_gateway.faults import Fault, FaultRequest, UnknownFaultError
from llm_gateway.simulator.faults import RETRY_AFTER_FAULTS, STATUS_FAULTS, FaultPicker
from llm_gateway.simulator.pacing import Pacer
from llm_gateway.simulator.responses import DropResponse, HangResponse
from llm_gateway.simulator.settings import SimulatorSettings
from llm_gateway.simulator.textmodel import TextModel


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
        return FaultRequest.from_headers(request.headers), read(await request.body())
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
        )

    def max_tokens(self, requested: int | None) -> int:
        if requested is None:
            return self.settings.max_tokens_default
        if requested > self.settings.max_tokens_limit:
            raise InvalidRequestError(
                f"max tokens must be at most {self.settings.max_tokens_limit}, got {requested}"
            )
        return requested

    def retry_after(self, fault: Fault) -> int | None:
        """The Retry-After seconds a status fault carries, if it carries one."""
        if fault in RETRY_AFTER_FAULTS:
            return self.settings.retry_after_seconds
        return None

    def fault_before_generation(
        self,
        requested: FaultRequest,
        *,
        streaming: bool,
        status_error: Callable[[Fault, int, int | None], Response],
        gave_up: Response,
    ) -> tuple[Fault, Response | None]:
        """The fault this request gets, and the answer it makes before any generation.

        A status fault answers ``status_error(fault, status, retry_after)`` in the route's
        dialect; a hang waits, then answers ``gave_up``; a drop closes a non-streamed
        request's connection. None: the request goes on (a stream drops, and malformed
        output is written, while generating).
        """
        fault = self.faults.pick(requested)
        if fault in STATUS_FAULTS:
            return fault, status_error(fault, STATUS_FAULTS[fault], self.retry_after(fault))
        if fault is Fault.HANG:
            return fault, HangResponse(self.settings.hang_seconds, then=gave_up)
        if fault is Fault.DROP and not streaming:
            return fault, DropResponse()
        return fault, None
