"""What every route shares: the settings, the text model, the fault picker and the pacer."""

from __future__ import annotations

import random
from dataclasses import dataclass

from pydantic import ValidationError

from llm_gateway.simulator.faults import RETRY_AFTER_FAULTS, Fault, FaultPicker
from llm_gateway.simulator.pacing import Pacer
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
