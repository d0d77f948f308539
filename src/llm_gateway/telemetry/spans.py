"""The core's tracer on OpenTelemetry: a CLIENT span per upstream attempt, following the
GenAI semantic conventions, and the queue wait and refusals as events of the request's
SERVER span (:mod:`~llm_gateway.telemetry.middleware`, the current span of the task).

An attempt span is named ``{gen_ai.operation.name} {gen_ai.request.model}`` and carries
the request's parameters, then the answer's usage, finish reasons and id, or the error's
code as ``error.type``. The stream's first token is its ``first_token`` event. Prompt
and answer text go out only with ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``,
as the ``gen_ai.client.inference.operation.details`` event at the attempt's end; no header
is ever recorded.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from llm_gateway.core.types import CompletionTask, EmbeddingTask, Outcome, TokenUsage
from llm_gateway.errors import GatewayError, Overloaded, RateLimited

FIRST_TOKEN_EVENT = "first_token"
CONTENT_EVENT = "gen_ai.client.inference.operation.details"


class Upstream(NamedTuple):
    """Where the attempts go: ``gen_ai.provider.name``, ``server.address``, ``server.port``."""

    provider: str
    address: str
    port: int


class OtelAttemptSpan:
    __slots__ = ("_content", "_finish_reasons", "_headers", "_span", "captures_content")

    def __init__(self, span: trace.Span, prompt: str | None = None) -> None:
        """``prompt``: the request's ``gen_ai.input.messages``, when content is captured."""
        self._span = span
        self._headers = traceparent(span.get_span_context())
        self.captures_content = prompt is not None
        self._content = {"gen_ai.input.messages": prompt} if prompt is not None else None
        self._finish_reasons: Sequence[str] = ()

    def headers(self) -> Mapping[str, str]:
        return self._headers

    def first_token(self) -> None:
        self._span.add_event(FIRST_TOKEN_EVENT)

    def answered(
        self, usage: TokenUsage, finish_reasons: Sequence[str], response_id: str | None
    ) -> None:
        span = self._span
        if not span.is_recording():
            return
        self._finish_reasons = finish_reasons
        attributes: dict[str, int | str | list[str]] = {
            "gen_ai.usage.input_tokens": usage.prompt_tokens,
            "gen_ai.usage.output_tokens": usage.completion_tokens,
        }
        if finish_reasons:
            attributes["gen_ai.response.finish_reasons"] = list(finish_reasons)
        if response_id is not None:
            attributes["gen_ai.response.id"] = response_id
        span.set_attributes(attributes)

    def generated(self, texts: Sequence[str]) -> None:
        if self._content is not None:
            self._content["gen_ai.output.messages"] = output_messages(texts, self._finish_reasons)

    def end(self, outcome: Outcome, error: BaseException | None) -> None:
        span = self._span
        if self._content is not None:
            span.add_event(CONTENT_EVENT, self._content)
        if outcome is Outcome.CANCELLED:
            span.set_attribute("error.type", "cancelled")
        elif error is not None:
            span.set_attribute("error.type", error_type(error))
            span.set_status(Status(StatusCode.ERROR))
        span.end()


class OtelTracer:
    """What :class:`~llm_gateway.core.tracing.Tracer` asks, on an OpenTelemetry tracer."""

    __slots__ = ("_capture", "_first", "_tracer", "_upstreams")

    def __init__(
        self, tracer: trace.Tracer, upstreams: Mapping[str, Upstream], capture_content: bool
    ) -> None:
        """``upstreams``: what the spans say of each upstream of the routing table, by name."""
        self._tracer = tracer
        self._upstreams = dict(upstreams)
        self._first = next(iter(self._upstreams.values()))
        self._capture = capture_content

    def attempt(
        self,
        request: CompletionTask | EmbeddingTask,
        model: str,
        number: int,
        fallback: bool,
        upstream: str,
        continuation: bool = False,
    ) -> OtelAttemptSpan:
        operation = operation_name(request)
        target = self._upstreams.get(upstream, self._first)
        attributes: dict[str, str | int | float | bool] = {
            "gen_ai.operation.name": operation,
            "gen_ai.provider.name": target.provider,
            "gen_ai.request.model": model,
            "gen_ai.response.model": model,
            "server.address": target.address,
            "server.port": target.port,
            "llm_gateway.attempt": number,
            "llm_gateway.fallback": fallback,
        }
        if continuation:
            attributes["llm_gateway.continuation"] = True
        if isinstance(request, CompletionTask):
            for name, value in (
                ("gen_ai.request.max_tokens", request.max_tokens),
                ("gen_ai.request.temperature", request.temperature),
                ("gen_ai.request.top_p", request.top_p),
            ):
                if value is not None:
                    attributes[name] = value
        span = self._tracer.start_span(
            f"{operation} {model}", kind=SpanKind.CLIENT, attributes=attributes
        )
        if self._capture and span.is_recording():
            return OtelAttemptSpan(span, input_messages(request))
        return OtelAttemptSpan(span)

    def trace_id(self) -> str | None:
        context = trace.get_current_span().get_span_context()
        if not context.trace_flags.sampled:
            return None
        return trace.format_trace_id(context.trace_id)

    def queued(self, seconds: float) -> None:
        trace.get_current_span().add_event("queued", {"llm_gateway.queue.wait_seconds": seconds})

    def refused(self, error: GatewayError) -> None:
        attributes: dict[str, str] = {"error.type": error.code}
        if isinstance(error, RateLimited):
            attributes["llm_gateway.rate_limit"] = str(error.limit)
        elif isinstance(error, Overloaded):
            attributes["llm_gateway.shed_reason"] = str(error.reason)
        trace.get_current_span().add_event("refused", attributes)


def traceparent(context: trace.SpanContext) -> dict[str, str]:
    """W3C trace context headers for a span (what the propagator's ``inject`` writes, without
    building a context to carry the span: this runs for every attempt)."""
    flags = int(context.trace_flags)
    headers = {"traceparent": f"00-{context.trace_id:032x}-{context.span_id:016x}-{flags:02x}"}
    if context.trace_state:
        headers["tracestate"] = context.trace_state.to_header()
    return headers


def operation_name(request: CompletionTask | EmbeddingTask) -> str:
    if isinstance(request, EmbeddingTask):
        return "embeddings"
    return "chat" if request.prompt is None else "text_completion"


def error_type(error: BaseException) -> str:
    """The gateway's own error code (``upstream_timeout``, ...), or the exception's class."""
    if isinstance(error, GatewayError):
        return error.code
    return type(error).__qualname__


def input_messages(request: CompletionTask | EmbeddingTask) -> str:
    """The prompt, as the conventions' ``gen_ai.input.messages`` (JSON text)."""
    if isinstance(request, EmbeddingTask):
        texts = [item for item in request.inputs if isinstance(item, str)]
        return json.dumps([{"role": "user", "parts": _text_parts(texts)}])
    if request.prompt is not None:
        return json.dumps([{"role": "user", "parts": _text_parts([request.prompt])}])
    messages = []
    for message in request.messages:
        content = message.get("content")
        if isinstance(content, str):
            texts = [content]
        else:
            texts = [part.get("text") or "" for part in content or ()]
        messages.append({"role": message.get("role", "user"), "parts": _text_parts(texts)})
    return json.dumps(messages)


def output_messages(texts: Sequence[str], finish_reasons: Sequence[str]) -> str:
    """The answer, one message per choice, as the conventions' ``gen_ai.output.messages``."""
    messages: list[dict[str, object]] = []
    for number, text in enumerate(texts):
        message: dict[str, object] = {"role": "assistant", "parts": _text_parts([text])}
        if len(finish_reasons) == len(texts):
            message["finish_reason"] = finish_reasons[number]
        messages.append(message)
    return json.dumps(messages)


def _text_parts(texts: Sequence[str]) -> list[dict[str, str]]:
    return [{"type": "text", "content": text} for text in texts]
