"""The per-request context: one typed record per request, reached through one accessor.

:class:`~llm_gateway.http.access.AccessLogMiddleware` creates it when a request arrives
and writes the access line from it when the request ends; authentication sets the
client's alias, the error handlers the error code. A completion route attaches the
core's :class:`~llm_gateway.core.measurement.Summary` of the request (model, outcome,
tokens, the time the gateway added), whose fields the access line shows too.
``arrived`` is the request's clock: durations, the SLO metrics among them, run from it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from starlette.types import Scope, Send

from llm_gateway.core.measurement import Summary

# Where the context lives in the ASGI scope; read and written only through this module.
_SCOPE_KEY = "llm_gateway.context"


@dataclass(slots=True)
class RequestContext:
    """What the gateway knows of one request; the access line shows its fields (but
    ``arrived``) with those of its summary."""

    request_id: str
    method: str = ""
    path: str = ""
    status: int = 0
    duration_ms: float = 0.0
    client: str | None = None
    error_code: str | None = None
    # With traces on, the request's sampled trace (telemetry.middleware).
    trace_id: str | None = None
    # Set by a completion route: the core's account of the request.
    summary: Summary | None = field(default=None, repr=False)
    # perf_counter() when the request arrived; durations are measured from here.
    arrived: float = field(default_factory=time.perf_counter, repr=False)
    # The send the access middleware was handed, beneath every middleware of the gateway
    # and every send Starlette and FastAPI wrap: a stream's messages between its first
    # and its last go straight to it (routes.stream_response).
    outer_send: Send | None = field(default=None, repr=False)

    @property
    def overhead_ms(self) -> float | None:
        """The time the gateway added before the response could start (core.measurement)."""
        return None if self.summary is None else self.summary.overhead_ms

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
        summary = self.summary or _NO_SUMMARY
        values = {
            "request_id": self.request_id,
            "trace_id": self.trace_id,
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "duration_ms": self.duration_ms,
            "client": self.client,
            "model": summary.model,
            "stream": summary.stream,
            "outcome": summary.outcome,
            # The error rendered wins over an upstream error a fallback recovered from.
            "error_code": self.error_code or summary.error_code,
            "prompt_tokens": summary.prompt_tokens,
            "completion_tokens": summary.completion_tokens,
            "overhead_ms": summary.overhead_ms,
        }
        return {name: value for name, value in values.items() if value is not None}


# Read only: the summary fields of a request that reached no completion route.
_NO_SUMMARY = Summary(arrived=0.0)
