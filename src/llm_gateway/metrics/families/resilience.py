"""How the gateway rode out failing upstreams: streams it mended, frames it passed over,
models whose circuit it opened (retries and fallbacks are with the request metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from llm_gateway.metrics.spec import MetricSpec

RESILIENCE_METRICS: dict[str, MetricSpec] = {
    "stream_continuations": MetricSpec(
        "llm_gateway_stream_continuations_total",
        Counter,
        "Streams that broke after tokens reached the client and were continued from the "
        "partial answer, by the model asked to continue and the reason the stream broke.",
        ("model", "reason"),
        "streams",
        "sum by (model, reason) (rate(llm_gateway_stream_continuations_total[5m]))",
    ),
    "skipped_frames": MetricSpec(
        "llm_gateway_stream_frames_skipped_total",
        Counter,
        "Unreadable frames an upstream sent in a stream, passed over instead of relayed "
        "(beyond the model's max_skipped_frames the stream counts as broken), by model.",
        ("model",),
        "frames",
        "sum by (model) (rate(llm_gateway_stream_frames_skipped_total[5m]))",
    ),
    "circuit_open": MetricSpec(
        "llm_gateway_circuit_open",
        Gauge,
        "1 while a model's circuit is open or half-open in a worker (its requests go to "
        "its fallbacks), 0 while it is closed (every model's from startup), by model.",
        ("model",),
        "",
        "max by (model) (llm_gateway_circuit_open)",
        options={"multiprocess_mode": "livemax"},
    ),
    "circuit_opened": MetricSpec(
        "llm_gateway_circuit_opened_total",
        Counter,
        "Times a model's circuit opened after failures in a row (or a failed probe), by "
        "model; every model's series exists from startup, at 0.",
        ("model",),
        "openings",
        "sum by (model) (increase(llm_gateway_circuit_opened_total[1h]))",
    ),
}
