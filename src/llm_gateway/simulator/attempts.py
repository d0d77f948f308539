"""What the simulator was asked, per request id: ``GET /simulator/requests/{request_id}``.

Every valid generation or embedding request that carries an ``X-Request-Id`` is recorded
with the fault it met, so a test can assert the attempts an upstream saw behind a
retrying, failing-over gateway (which sends its request id on every attempt). Memory is
bounded: the most recent attempts of the most recently seen request ids.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from llm_gateway.faults import Fault
from llm_gateway.simulator.faults import MAX_TRACKED_REQUESTS
from llm_gateway.simulator.responses import json_body

# Attempts kept per request id, the latest: far more than a gateway makes for one request.
MAX_ATTEMPTS_PER_REQUEST = 32


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one request asked for, and the fault it met."""

    model: str | None
    stream: bool
    # As the request asked, None when it did not.
    max_tokens: int | None
    # Characters of the assistant prefill the request asks to continue; 0 without one.
    prefill: int = 0
    fault: Fault = Fault.NONE

    def as_json(self) -> dict[str, object]:
        return {
            "model": self.model,
            "stream": self.stream,
            "prefill": self.prefill,
            "fault": self.fault.value,
            "max_tokens": self.max_tokens,
        }


class AttemptLog:
    def __init__(self) -> None:
        self._attempts: OrderedDict[str, deque[Attempt]] = OrderedDict()

    def record(self, request_id: str | None, attempt: Attempt) -> None:
        if request_id is None:
            return
        attempts = self._attempts.pop(request_id, None)
        if attempts is None:
            attempts = deque(maxlen=MAX_ATTEMPTS_PER_REQUEST)
        attempts.append(attempt)
        self._attempts[request_id] = attempts
        if len(self._attempts) > MAX_TRACKED_REQUESTS:
            self._attempts.popitem(last=False)

    def of(self, request_id: str) -> list[Attempt]:
        """The attempts of a request id, oldest first; none for an id never seen."""
        return list(self._attempts.get(request_id, ()))

    def routes(self) -> list[Route]:
        return [Route("/simulator/requests/{request_id}", self._requests, methods=["GET"])]

    async def _requests(self, request: Request) -> Response:
        attempts = self.of(request.path_params["request_id"])
        body = json_body([attempt.as_json() for attempt in attempts])
        return Response(body, media_type="application/json")
