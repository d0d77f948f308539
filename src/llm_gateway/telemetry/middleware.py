"""The request's SERVER span, continuing the client's W3C trace context.

Runs inside the access middleware, which made the request's context: the trace id goes
to the access line from there. The span is the current one while the app runs, so the
core's attempt spans are its children and its events (queue wait, refusals) land on it.
No header is recorded but the trace context itself; the name is the method and the
route's template (``POST /v1/chat/completions``), never the raw path. Probes and scrapes
(the access line's quiet paths) are not traced.

A request's trace context is what its own headers carry, never what its task inherited:
that can be another request's. uvicorn starts a pipelined request from within the one
before it, and resumes a paused connection's reads from within a request, after which
the next request on that connection starts from a copy of that one's context
(python/cpython#140947, Kludex/uvicorn#2167). A request without a ``traceparent`` would
then join the other request's trace, as the child of its span.
"""

from __future__ import annotations

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.types import ASGIApp, Receive, Scope, Send

from llm_gateway.http.access import QUIET_PATHS
from llm_gateway.http.context import RequestContext
from llm_gateway.telemetry.spans import error_type

PROPAGATOR = TraceContextTextMapPropagator()
_TRACE_HEADERS = frozenset({b"traceparent", b"tracestate"})
# The context a request without a trace context of its own starts from: nothing.
_NO_PARENT = otel_context.Context()


class TraceMiddleware:
    def __init__(self, app: ASGIApp, tracer: trace.Tracer) -> None:
        self.app = app
        self._tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in QUIET_PATHS:
            await self.app(scope, receive, send)
            return
        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in _TRACE_HEADERS
        }
        method = scope["method"]
        request = RequestContext.of(scope)
        parent = PROPAGATOR.extract(carrier, _NO_PARENT) if carrier else _NO_PARENT
        span = self._tracer.start_span(
            method,
            context=parent,
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": method,
                "url.path": scope["path"],
                "url.scheme": scope.get("scheme", "http"),
                "llm_gateway.request_id": request.request_id,
            },
        )
        span_context = span.get_span_context()
        if span_context.trace_flags.sampled:
            request.trace_id = trace.format_trace_id(span_context.trace_id)
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        try:
            await self.app(scope, receive, send)
        except BaseException as exc:
            span.set_attribute("error.type", error_type(exc))
            raise
        finally:
            otel_context.detach(token)
            _finish(span, scope, request.status)


def _finish(span: trace.Span, scope: Scope, status: int) -> None:
    attributes: dict[str, str | int] = {}
    route = getattr(scope.get("route"), "path", None)
    if route is not None:
        span.update_name(f"{scope['method']} {route}")
        attributes["http.route"] = route
    if status:
        attributes["http.response.status_code"] = status
    if status >= 500:
        attributes["error.type"] = str(status)
    span.set_attributes(attributes)
    if not status or status >= 500:  # no status: an exception, its type already set
        span.set_status(Status(StatusCode.ERROR))
    span.end()
