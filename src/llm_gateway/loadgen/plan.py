"""What to send and when: the request mix and the open-loop arrival schedule.

Every random choice comes from one ``random.Random``, so a seed replays the same requests
at the same offsets.
"""

from __future__ import annotations

import enum
import itertools
import math
import random
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from llm_gateway.core.types import Endpoint
from llm_gateway.faults import Fault

# What a request may ask of the simulator; "none" is what happens without the header.
FAULTS = tuple(fault.value for fault in Fault if fault is not Fault.NONE)

PROMPTS = (
    "What is Prometheus?",
    "Explain a histogram quantile in one paragraph.",
    "Write a haiku about on-call.",
    "Summarise what an error budget is.",
    "List three causes of high time to first token.",
    "How does a burn-rate alert work?",
)


class Arrival(enum.StrEnum):
    """How arrivals are spaced: exponential gaps (a Poisson process) or a fixed interval."""

    POISSON = "poisson"
    UNIFORM = "uniform"


class PlanError(ValueError):
    """An option that cannot describe a load; the command line shows it as a usage error."""


def parse_faults(specs: Iterable[str]) -> dict[str, float]:
    """Read ``name=fraction`` pairs into a fault mix whose fractions sum to at most 1."""
    mix: dict[str, float] = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        name = name.strip().lower()
        if not sep:
            raise PlanError(f"{spec!r} is not name=fraction, e.g. rate_limit=0.05.")
        if name not in FAULTS:
            raise PlanError(f"Unknown fault {name!r}; expected one of: {', '.join(FAULTS)}.")
        if name in mix:
            raise PlanError(f"Fault {name!r} is given twice.")
        try:
            fraction = float(value)
        except ValueError:
            raise PlanError(f"The fraction of {name!r} is not a number: {value!r}.") from None
        if not 0.0 <= fraction <= 1.0:
            raise PlanError(f"The fraction of {name!r} must be between 0 and 1, not {value}.")
        mix[name] = fraction
    total = math.fsum(mix.values())
    if total > 1.0 + 1e-9:
        raise PlanError(f"The fault fractions add up to {total:g}, more than 1.")
    return mix


@dataclass(frozen=True)
class RequestSpec:
    """One request to send."""

    endpoint: Endpoint
    model: str
    stream: bool
    prompt: str
    max_tokens: int
    fault: str | None = None


@dataclass(frozen=True)
class Mix:
    """The shape of the traffic: fractions are probabilities for each request."""

    models: tuple[str, ...]
    stream_fraction: float = 0.5
    chat_fraction: float = 0.5
    max_tokens: int = 64
    faults: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.models:
            raise PlanError("The mix needs at least one model.")
        for name in ("stream_fraction", "chat_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise PlanError(f"{name} must be between 0 and 1.")
        if self.max_tokens < 1:
            raise PlanError("max_tokens must be at least 1.")

    def draw(self, rng: random.Random) -> RequestSpec:
        chat = rng.random() < self.chat_fraction
        return RequestSpec(
            endpoint=Endpoint.CHAT_COMPLETIONS if chat else Endpoint.GENERATE,
            model=rng.choice(self.models),
            stream=rng.random() < self.stream_fraction,
            prompt=rng.choice(PROMPTS),
            max_tokens=self.max_tokens,
            fault=self._draw_fault(rng),
        )

    def _draw_fault(self, rng: random.Random) -> str | None:
        # Always one draw, faults or not, so adding a fault keeps the rest of the plan.
        draw = rng.random()
        cumulative = 0.0
        for fault, fraction in self.faults.items():
            cumulative += fraction
            if draw < cumulative:
                return fault
        return None


def arrival_offsets(rate: float, arrival: Arrival, rng: random.Random) -> Iterator[float]:
    """Seconds from the start at which requests arrive, ``rate`` per second on average.

    Open loop: the schedule never waits for responses, so a slow gateway sees the same
    arrivals as a fast one, as real clients would send them.
    """
    if rate <= 0:
        raise PlanError("The rate must be positive.")
    if arrival is Arrival.UNIFORM:
        # Multiplied, not summed, so that float error does not drift over a long run.
        yield from (index / rate for index in itertools.count())
    offset = 0.0
    while True:
        yield offset
        offset += rng.expovariate(rate)
