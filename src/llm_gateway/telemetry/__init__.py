"""Traces: OpenTelemetry, on when the standard ``OTEL_*`` variables say so.

Deciding costs nothing: this module imports nothing of OpenTelemetry's SDK. Only when an
OTLP endpoint is set (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or
``OTEL_EXPORTER_OTLP_ENDPOINT``), and neither ``OTEL_SDK_DISABLED=true`` nor
``OTEL_TRACES_EXPORTER=none`` says otherwise, does :func:`from_environment` load
:mod:`~llm_gateway.telemetry.setup` (the SDK, its OTLP/HTTP exporter), which builds the
provider, the core's tracer (:mod:`~llm_gateway.telemetry.spans`) and the SERVER-span
middleware (:mod:`~llm_gateway.telemetry.middleware`). Traces off, the app has neither.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llm_gateway.settings import Settings
    from llm_gateway.telemetry.setup import Tracing

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


def requested(environ: Mapping[str, str]) -> bool:
    """Whether the environment asks for traces."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "none":
        return False
    return any(environ.get(name, "").strip() for name in ENDPOINT_VARIABLES)


def from_environment(
    upstreams: Mapping[str, Settings], environ: Mapping[str, str]
) -> Tracing | None:
    """The app's tracing when the environment asks for it; None otherwise. ``upstreams``:
    the settings of each upstream of the routing table, by name, for the attempt spans."""
    if not requested(environ):
        return None
    # Imported here, not at the top: with traces off, the SDK and the exporter stay unloaded.
    from llm_gateway.telemetry.setup import Tracing

    return Tracing.build(upstreams, environ)
