"""The per-request context: one typed record per request, reached through one accessor.

:class:`~llm_gateway.http.access.AccessLogMiddleware` creates it when a request arrives
and writes the access line from it when the request ends; authentication sets the
client's alias, the core's measurement the LLM fields, the error handlers the error code.
``arrived`` is the request's clock: durations, the SLO metrics among them, run from it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from typing import Any

from starlette.types import Scope

# Where the context lives in the ASGI scope; read and written only through this module.
_SCOPE_KEY = "llm_gateway.context"


@dataclass(slots=True)
class RequestContext:
    """What the gateway knows of one request; the access line shows every field but
    ``arrived``."""

    request_id: str
    method: str = ""
    path: str = ""
    status: int = 0
    duration_ms: float = 0.0
    client: str | None = None
    model: str | None = None
    stream: bool | None = None
    outcome: str | None = None
    error_code: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    # The time the gateway added before the response could start (core.measurement).
    overhead_ms: float | None = None
    # perf_counter() when the request arrived; durations are measured from here.
    arrived: float = field(default_factory=time.perf_counter, repr=False)

    def attach(self, scope: Scope) -> None:
        """Make this the context of the request ``scope`` belongs to."""
        scope[_SCOPE_KEY] = self

    @staticmethod
    def of(scope: Scope) -> RequestContext:
        """The request's context; every request has one once the access middleware ran."""
        context: RequestContext = scope[_SCOPE_KEY]
        return context

    @staticmethod
    def find(scope: Scope) -> RequestContext | None:
        """The request's context, or None for a scope that never went through the gateway's
        middleware (an error raised outside it)."""
        return scope.get(_SCOPE_KEY)

    def fields(self) -> dict[str, Any]:
        return {
            name: value for name in _LOGGED_FIELDS if (value := getattr(self, name)) is not None
        }


_LOGGED_FIELDS = tuple(f.name for f in dataclass_fields(RequestContext) if f.name != "arrived")
