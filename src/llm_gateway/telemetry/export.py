"""Spans out over OTLP/HTTP: the SDK's batch processor and exporter, with a cheaper encoding.

The SDK's exporter turns each batch into opentelemetry-proto's message objects (one per
span, event, attribute and value) and then serializes them: about 35 µs per span here,
more than the spans cost to make. :class:`SpanEncoder` writes the same bytes directly, in
protobuf's wire format, field by field, and keeps the encoded form of each repeated
attribute (the provider, the model, the server's address and port, the method...): about
9 µs per span. The bytes are those of the SDK's own ``encode_spans`` (``tests/unit/
telemetry/test_export.py`` compares them over every kind of field and value).

Each span is encoded as it ends, by :class:`EncodingSpanProcessor`, and waits for its
batch as bytes: the SDK's batch processor otherwise holds the finished span itself,
some twenty objects (attributes, events, their mappings...) that live through a few
hundred requests and so through the garbage collector's younger generations into the
oldest, whose full collections they then trigger: 11 to 16 µs of collections per traced
request in ``bench/tracing.py``'s loop, 1 to 2 µs with bytes queued. The batch processor
is the SDK's own, with every ``OTEL_BSP_*`` variable.

:class:`OtlpSpanExporter` frames the batch's bytes and hands them to the HTTP client
inside the SDK's exporter, which keeps everything the ``OTEL_EXPORTER_OTLP_*`` variables
configure (endpoint, headers, timeout, compression, certificates) and its retries. That
client is the exporter's private ``_client`` (``opentelemetry-exporter-otlp-proto-http``
1.4x, checked up to the version ``pyproject.toml`` bounds). Where it is not there, or not
of that kind, spans are batched and encoded by the SDK as usual, and a warning says so
once.
"""

from __future__ import annotations

import importlib
import logging
import struct
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanKind

logger = logging.getLogger(__name__)

_BYTE = [bytes((value,)) for value in range(0x80)]
_FIXED64 = struct.Struct("<Q").pack
_DOUBLE = struct.Struct("<d").pack
_INT64 = range(-(1 << 63), 1 << 63)
_LOW64 = (1 << 64) - 1
# A span's (or link's) trace id (field 1, in two halves) and span id (2); a span's
# parent span id (4); its start and end times (7, 8).
_IDS = struct.Struct(">BBQQBBQ").pack
_PARENT_ID = struct.Struct(">BBQ").pack
_TIMES = struct.Struct("<BQBQ").pack
# Its kind (6): SpanKind's values count from 0 (INTERNAL), OTLP's from 1 (0: unspecified).
_KINDS = {kind: bytes((0x30, kind.value + 1)) for kind in SpanKind}
# The flags of a span (16) and a link (6), by whether its parent or the linked context is
# remote: bit 8 says that this is known, bit 9 that it is.
_SPAN_FLAGS = {
    False: b"\x85\x01" + struct.pack("<I", 0x100),
    True: b"\x85\x01" + struct.pack("<I", 0x300),
}
_LINK_FLAGS = {False: b"\x35" + struct.pack("<I", 0x100), True: b"\x35" + struct.pack("<I", 0x300)}
# Encoded attribute fields kept, by field, key and value; emptied when full (the
# request-specific ones, ids and counts, come and go; the constant ones are back at once).
# Kept: integers, booleans and strings up to _KEPT_LENGTH characters (not a prompt);
# never a float (-0.0 == 0.0, but their bytes differ).
_KEPT_FIELDS = 4096
_KEPT_LENGTH = 256


def _varint(value: int) -> bytes:
    if value < 0x80:
        return _BYTE[value]
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: a string, bytes, or an embedded message."""
    size = len(payload)
    return tag + (_BYTE[size] if size < 0x80 else _varint(size)) + payload


def _any_value(value: Any) -> bytes:
    """An ``AnyValue`` message's content, as the SDK's ``_encode_value`` fills it."""
    if isinstance(value, str):
        return _field(b"\x0a", value.encode())
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, int):
        if value not in _INT64:
            raise ValueError(f"{value} is out of an int64's range")
        return b"\x18" + _varint(value & 0xFFFFFFFFFFFFFFFF)
    if isinstance(value, float):
        return b"\x21" + _DOUBLE(value)
    if value is None:
        return b""
    if isinstance(value, bytes):
        return _field(b"\x3a", value)
    if isinstance(value, Sequence):
        return _field(b"\x2a", b"".join([_field(b"\x0a", _any_value(v)) for v in value]))
    if isinstance(value, Mapping):
        pairs = [_field(b"\x0a", _key_value(str(k), v)) for k, v in value.items()]
        return _field(b"\x32", b"".join(pairs))
    raise TypeError(f"Invalid type {type(value)} of value {value}")


def _key_value(key: str, value: Any) -> bytes:
    return _field(b"\x0a", key.encode()) + _field(b"\x12", _any_value(value))


class SpanEncoder:
    """An ``ExportTraceServiceRequest``'s bytes for a batch of finished spans."""

    __slots__ = ("_kept",)

    def __init__(self) -> None:
        self._kept: dict[tuple[bytes, str, type, object], bytes] = {}

    @property
    def kept_fields(self) -> int:
        """How many encoded attribute fields are kept (at most ``_KEPT_FIELDS``)."""
        return len(self._kept)

    def encode(self, spans: Sequence[ReadableSpan]) -> bytes:
        """The request for ``spans``, finished spans or spans encoded as they ended."""
        # Grouped by resource, then scope, as the SDK groups them; by identity, as one
        # provider's spans share theirs (the SDK hashes each resource's attributes).
        resources: dict[int, tuple[Resource, dict[int, tuple[Any, list[bytes]]]]] = {}
        for span in spans:
            resource, scope = span.resource, span.instrumentation_scope
            scopes = resources.setdefault(id(resource), (resource, {}))[1]
            encoded = span.encoded if isinstance(span, EncodedSpan) else self.span(span)
            scopes.setdefault(id(scope), (scope, []))[1].append(encoded)
        out = []
        for resource, scopes in resources.values():
            attributes: list[bytes] = []
            self._attributes(b"\x0a", resource.attributes, attributes)
            parts = [_field(b"\x0a", b"".join(attributes))]
            for scope, scope_spans in scopes.values():
                parts.append(_field(b"\x12", self._scope_spans(scope, scope_spans)))
            if resource.schema_url:
                parts.append(_field(b"\x1a", resource.schema_url.encode()))
            out.append(_field(b"\x0a", b"".join(parts)))
        return b"".join(out)

    def _scope_spans(self, scope: InstrumentationScope | None, spans: list[bytes]) -> bytes:
        if scope is None:
            return b"\x0a\x00" + b"".join(spans)
        parts = []
        if scope.name:
            parts.append(_field(b"\x0a", scope.name.encode()))
        if scope.version:
            parts.append(_field(b"\x12", scope.version.encode()))
        self._attributes(b"\x1a", scope.attributes, parts)
        head = _field(b"\x0a", b"".join(parts))
        tail = _field(b"\x1a", scope.schema_url.encode()) if scope.schema_url else b""
        return head + b"".join(spans) + tail

    def span(self, span: ReadableSpan) -> bytes:
        """A finished span, as a ``ScopeSpans.spans`` field."""
        context, parent = span.context, span.parent
        assert context is not None  # a finished span's
        trace_id = context.trace_id
        parts = [_IDS(0x0A, 16, trace_id >> 64, trace_id & _LOW64, 0x12, 8, context.span_id)]
        if context.trace_state:
            state = ",".join([f"{key}={value}" for key, value in context.trace_state.items()])
            parts.append(_field(b"\x1a", state.encode()))
        if parent is not None:
            parts.append(_PARENT_ID(0x22, 8, parent.span_id))
        if span.name:
            parts.append(self._name(b"\x2a", span.name))
        parts += (_KINDS[span.kind], _TIMES(0x39, span.start_time or 0, 0x41, span.end_time or 0))
        self._attributes(b"\x4a", span.attributes, parts)
        if span.dropped_attributes:
            parts += (b"\x50", _varint(span.dropped_attributes))
        for event in span.events:
            body = [b"\x09", _FIXED64(event.timestamp)]
            if event.name:
                body.append(self._name(b"\x12", event.name))
            self._attributes(b"\x1a", event.attributes, body)
            if event.dropped_attributes:
                body += (b"\x20", _varint(event.dropped_attributes))
            parts.append(_field(b"\x5a", b"".join(body)))
        if span.dropped_events:
            parts += (b"\x60", _varint(span.dropped_events))
        for link in span.links:
            linked = link.context
            high, low = linked.trace_id >> 64, linked.trace_id & _LOW64
            body = [_IDS(0x0A, 16, high, low, 0x12, 8, linked.span_id)]
            self._attributes(b"\x22", link.attributes, body)
            if link.dropped_attributes:
                body += (b"\x28", _varint(link.dropped_attributes))
            body.append(_LINK_FLAGS[linked.is_remote])
            parts.append(_field(b"\x6a", b"".join(body)))
        if span.dropped_links:
            parts += (b"\x70", _varint(span.dropped_links))
        status = span.status
        if status.description or status.status_code.value:
            body = []
            if status.description:
                body.append(_field(b"\x12", status.description.encode()))
            if status.status_code.value:
                body += (b"\x18", _BYTE[status.status_code.value])
            parts.append(_field(b"\x7a", b"".join(body)))
        else:
            parts.append(b"\x7a\x00")  # present, and empty: unset
        parts.append(_SPAN_FLAGS[parent is not None and parent.is_remote])
        return _field(b"\x12", b"".join(parts))

    def _name(self, tag: bytes, name: str) -> bytes:
        """A span's or an event's name as field ``tag``, kept as names are few."""
        memo = (tag, "", str, name)
        field = self._kept.get(memo)
        if field is None:
            field = _field(tag, name.encode())
            if len(self._kept) >= _KEPT_FIELDS:
                self._kept.clear()
            self._kept[memo] = field
        return field

    def _attributes(
        self, tag: bytes, attributes: Mapping[str, Any] | None, out: list[bytes]
    ) -> None:
        """Append each attribute as a ``KeyValue`` field numbered ``tag``; one the SDK could
        not encode is left out and logged, as the SDK does."""
        if not attributes:
            return
        kept = self._kept
        # The SDK's attribute mappings copy themselves as plain dicts, faster to go over
        # than their items one lookup at a time.
        copy = getattr(attributes, "copy", None)
        for key, value in (copy() if copy is not None else attributes).items():
            kind = type(value)
            keep = kind is int or kind is bool or kind is str and len(value) <= _KEPT_LENGTH
            memo = (tag, key, kind, value)
            field = kept.get(memo) if keep else None
            if field is None:
                try:
                    field = _field(tag, _key_value(key, value))
                except Exception:
                    logger.exception("Failed to encode key %s", key)
                    continue
                if keep:
                    if len(kept) >= _KEPT_FIELDS:
                        kept.clear()
                    kept[memo] = field
            out.append(field)


class EncodedSpan(ReadableSpan):
    """A finished span as its batch holds it: what the batch processor and the grouping
    into resources and scopes read (its context, resource and scope), and its bytes."""

    def __init__(self, span: ReadableSpan, encoded: bytes) -> None:
        super().__init__(
            span.name,
            span.context,
            resource=span.resource,
            instrumentation_scope=span.instrumentation_scope,
        )
        self.encoded = encoded


class EncodingSpanProcessor(BatchSpanProcessor):
    """The SDK's batch processor, handed each span encoded as it ends."""

    def __init__(self, exporter: OtlpSpanExporter) -> None:
        super().__init__(exporter)
        self._encoder = exporter.encoder

    def on_end(self, span: ReadableSpan) -> None:
        if span.context is not None and span.context.trace_flags.sampled:
            super().on_end(EncodedSpan(span, self._encoder.span(span)))


def span_processor() -> SpanProcessor:
    """The processor spans go out through: batched, encoded here when the exporter
    sends through a client it knows, by the SDK otherwise."""
    exporter = OtlpSpanExporter()
    if exporter.encodes:
        return EncodingSpanProcessor(exporter)
    return BatchSpanProcessor(exporter)


class OtlpSpanExporter(OTLPSpanExporter):
    """The SDK's OTLP/HTTP exporter, configured by the ``OTEL_EXPORTER_OTLP_*`` variables,
    sending what :class:`SpanEncoder` writes."""

    def __init__(self) -> None:
        super().__init__()
        client: Any = getattr(self, "_client", None)
        kind = _http_client_type()
        self._post = client.export if kind is not None and isinstance(client, kind) else None
        self._encoder = SpanEncoder()
        if self._post is None:
            logger.warning(
                "this opentelemetry-exporter-otlp-proto-http has no HTTP client of the kind "
                "the gateway's span encoder sends through; spans are encoded by the SDK"
            )

    @property
    def encodes(self) -> bool:
        """Whether it sends :class:`SpanEncoder`'s bytes (or the SDK's own encoding)."""
        return self._post is not None

    @property
    def encoder(self) -> SpanEncoder:
        return self._encoder

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._post is None or self._shutdown:
            return super().export(spans)
        try:
            data = self._encoder.encode(spans)
        except Exception:
            logger.exception("Failed to encode span batch")
            return SpanExportResult.FAILURE
        # The client logs a failure, retried or not.
        sent = self._post(data)
        return SpanExportResult.SUCCESS if sent.success else SpanExportResult.FAILURE


def _http_client_type() -> type[Any] | None:
    """The class of the exporter's HTTP client, in the releases that have one."""
    try:
        module = importlib.import_module("opentelemetry.exporter.otlp.common.http")
    except ImportError:  # an older exporter, which posts by itself
        return None
    kind = getattr(module, "_OTLPHTTPClient", None)
    return kind if isinstance(kind, type) else None
