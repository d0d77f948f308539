"""What the core traces: the one seam between the core and OpenTelemetry.

The app hands in :class:`~llm_gateway.telemetry.spans.OtelTracer` when an ``OTEL_*``
variable turns traces on, and :data:`NO_TRACER` otherwise; the core knows only these
methods, so it imports nothing of OpenTelemetry. Each upstream attempt is one
:class:`AttemptSpan`; the request's own span (opened by the HTTP layer) receives the
queue wait and the gateway's refusals.

An attempt's W3C trace context goes to the upstream through :func:`upstream_headers`,
which every upstream adapter adds to the headers of the call it makes: the attempt in
progress is the current one of the task that makes it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from types import MappingProxyType
from typing import Protocol

from llm_gateway.core.types import CompletionTask, EmbeddingTask, Outcome, TokenUsage
from llm_gateway.errors import GatewayError

NO_HEADERS: Mapping[str, str] = MappingProxyType({})
_attempt_headers: ContextVar[Mapping[str, str]] = ContextVar(
    "llm_gateway_attempt_headers", default=NO_HEADERS
)


def upstream_headers() -> Mapping[str, str]:
    """The trace context (``traceparent``, ``tracestate``) of the attempt in progress in
    this task, for its upstream call; empty when traces are off."""
    return _attempt_headers.get()


class AttemptSpan(Protocol):
    # Whether the span records the answer's text (the capture-content switch): only then
    # does the core hand it over, or gather a stream's.
    captures_content: bool

    def headers(self) -> Mapping[str, str]:
        """The attempt's W3C trace context, as headers to send upstream."""
        ...

    def first_token(self) -> None: ...
    def answered(
        self, usage: TokenUsage, finish_reasons: Sequence[str], response_id: str | None
    ) -> None: ...
    def generated(self, texts: Sequence[str]) -> None:
        """The answer's text, one per choice; called only when ``captures_content``."""
        ...

    def end(self, outcome: Outcome, error: BaseException | None) -> None: ...


class Tracer(Protocol):
    def attempt(
        self,
        request: CompletionTask | EmbeddingTask,
        model: str,
        number: int,
        fallback: bool,
        upstream: str,
        continuation: bool = False,
    ) -> AttemptSpan:
        """A span for attempt ``number`` (from 1) of ``request`` on ``model``, the id sent
        to ``upstream`` (the name of its upstream in the routing table); a
        ``continuation`` continues a stream that broke."""
        ...

    def trace_id(self) -> str | None:
        """The sampled trace the current request belongs to (32 hex digits), if any."""
        ...

    def queued(self, seconds: float) -> None: ...
    def refused(self, error: GatewayError) -> None: ...


def begin_attempt(span: AttemptSpan) -> None:
    """Make ``span`` the attempt whose context this task sends upstream."""
    _attempt_headers.set(span.headers())


class _NoSpan:
    __slots__ = ()
    captures_content = False

    def headers(self) -> Mapping[str, str]:
        return NO_HEADERS

    def first_token(self) -> None:
        return None

    def answered(
        self, usage: TokenUsage, finish_reasons: Sequence[str], response_id: str | None
    ) -> None:
        return None

    def generated(self, texts: Sequence[str]) -> None:
        return None

    def end(self, outcome: Outcome, error: BaseException | None) -> None:
        return None


class _NoTracer:
    """Traces off: every call does nothing."""

    __slots__ = ()

    def attempt(
        self,
        request: CompletionTask | EmbeddingTask,
        model: str,
        number: int,
        fallback: bool,
        upstream: str,
        continuation: bool = False,
    ) -> AttemptSpan:
        return NO_SPAN

    def trace_id(self) -> str | None:
        return None

    def queued(self, seconds: float) -> None:
        return None

    def refused(self, error: GatewayError) -> None:
        return None


NO_SPAN: AttemptSpan = _NoSpan()
NO_TRACER: Tracer = _NoTracer()
