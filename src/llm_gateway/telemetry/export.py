"""Spans out over OTLP/HTTP: the SDK's exporter, with a cheaper encoding.

The SDK's exporter turns each batch into opentelemetry-proto's message objects (one per
span, event, attribute and value) and then serializes them: about 35 µs per span here,
more than the spans cost to make. :class:`SpanEncoder` writes the same bytes directly, in
protobuf's wire format, field by field, and keeps the encoded form of each repeated
attribute (the provider, the model, the server's address and port, the method...): about
10 µs per span. The bytes are those of the SDK's own ``encode_spans`` (``tests/unit/
telemetry/test_export.py`` compares them over every kind of field and value).

:class:`OtlpSpanExporter` hands those bytes to the HTTP client inside the SDK's exporter,
which keeps everything the ``OTEL_EXPORTER_OTLP_*`` variables configure (endpoint,
headers, timeout, compression, certificates) and its retries. That client is the
exporter's private ``_client`` (``opentelemetry-exporter-otlp-proto-http`` 1.4x, checked
up to the version ``pyproject.toml`` bounds). Where it is not there, or not of that kind,
spans go through the SDK's own encoding, and a warning says so once.
"""

from __future__ import annotations

import importlib
import logging
import struct
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

logger = logging.getLogger(__name__)

_BYTE = [bytes((value,)) for value in range(0x80)]
_FIXED64 = struct.Struct("<Q").pack
_FIXED32 = struct.Struct("<I").pack
_DOUBLE = struct.Struct("<d").pack
_INT64 = range(-(1 << 63), 1 << 63)
# Span.flags and Link.flags: whether the parent (or linked) context is remote is known.
_HAS_IS_REMOTE, _IS_REMOTE = 0x100, 0x200
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
        # Grouped by resource, then scope, as the SDK groups them; by identity, as one
        # provider's spans share theirs (the SDK hashes each resource's attributes).
        resources: dict[int, tuple[Resource, dict[int, tuple[Any, list[bytes]]]]] = {}
        for span in spans:
            resource, scope = span.resource, span.instrumentation_scope
            scopes = resources.setdefault(id(resource), (resource, {}))[1]
            scopes.setdefault(id(scope), (scope, []))[1].append(self._span(span))
        out = []
        for resource, scopes in resources.values():
            parts = [_field(b"\x0a", b"".join(self._attributes(b"\x0a", resource.attributes)))]
            for scope, encoded in scopes.values():
                parts.append(_field(b"\x12", self._scope_spans(scope, encoded)))
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
        parts += self._attributes(b"\x1a", scope.attributes)
        head = _field(b"\x0a", b"".join(parts))
        tail = _field(b"\x1a", scope.schema_url.encode()) if scope.schema_url else b""
        return head + b"".join(spans) + tail

    def _span(self, span: ReadableSpan) -> bytes:
        context, parent = span.context, span.parent
        assert context is not None and span.start_time and span.end_time
        parts = [
            b"\x0a\x10",
            context.trace_id.to_bytes(16, "big"),
            b"\x12\x08",
            context.span_id.to_bytes(8, "big"),
        ]
        if context.trace_state:
            state = ",".join([f"{key}={value}" for key, value in context.trace_state.items()])
            parts.append(_field(b"\x1a", state.encode()))
        if parent is not None:
            parts += (b"\x22\x08", parent.span_id.to_bytes(8, "big"))
        if span.name:
            parts.append(_field(b"\x2a", span.name.encode()))
        # SpanKind's values count from 0 (INTERNAL), OTLP's from 1 (0 is unspecified).
        parts += (b"\x30", _BYTE[span.kind.value + 1])
        parts += (b"\x39", _FIXED64(span.start_time), b"\x41", _FIXED64(span.end_time))
        parts += self._attributes(b"\x4a", span.attributes)
        if span.dropped_attributes:
            parts += (b"\x50", _varint(span.dropped_attributes))
        for event in span.events:
            body = [b"\x09", _FIXED64(event.timestamp)]
            if event.name:
                body.append(_field(b"\x12", event.name.encode()))
            body += self._attributes(b"\x1a", event.attributes)
            if event.dropped_attributes:
                body += (b"\x20", _varint(event.dropped_attributes))
            parts.append(_field(b"\x5a", b"".join(body)))
        if span.dropped_events:
            parts += (b"\x60", _varint(span.dropped_events))
        for link in span.links:
            linked = link.context
            body = [
                b"\x0a\x10",
                linked.trace_id.to_bytes(16, "big"),
                b"\x12\x08",
                linked.span_id.to_bytes(8, "big"),
            ]
            body += self._attributes(b"\x22", link.attributes)
            if link.dropped_attributes:
                body += (b"\x28", _varint(link.dropped_attributes))
            flags = _HAS_IS_REMOTE | (_IS_REMOTE if linked.is_remote else 0)
            body += (b"\x35", _FIXED32(flags))
            parts.append(_field(b"\x6a", b"".join(body)))
        if span.dropped_links:
            parts += (b"\x70", _varint(span.dropped_links))
        status, body = span.status, []
        if status.description:
            body.append(_field(b"\x12", status.description.encode()))
        if status.status_code.value:
            body += (b"\x18", _BYTE[status.status_code.value])
        parts.append(_field(b"\x7a", b"".join(body)))
        remote = parent is not None and parent.is_remote
        parts += (b"\x85\x01", _FIXED32(_HAS_IS_REMOTE | (_IS_REMOTE if remote else 0)))
        return _field(b"\x12", b"".join(parts))

    def _attributes(self, tag: bytes, attributes: Mapping[str, Any] | None) -> list[bytes]:
        """Each attribute as a ``KeyValue`` field numbered ``tag``; one the SDK could not
        encode is left out and logged, as the SDK does."""
        if not attributes:
            return []
        out = []
        kept = self._kept
        for key, value in attributes.items():
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
        return out


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
