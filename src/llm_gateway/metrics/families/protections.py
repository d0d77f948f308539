"""The gateway's own protections: the concurrency queue, load shedding, per-key rate limits
and their Redis store, API keys."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from llm_gateway.metrics.spec import QUEUE_WAIT_BUCKETS, STORE_ROUND_TRIP_BUCKETS, MetricSpec

PROTECTION_METRICS: dict[str, MetricSpec] = {
    "queue_wait": MetricSpec(
        "llm_gateway_queue_wait_seconds",
        Histogram,
        "Time requests waited for an upstream slot when all were taken, in seconds.",
        (),
        "seconds",
        "histogram_quantile(0.99, sum by (le) (rate(llm_gateway_queue_wait_seconds_bucket[5m])))",
        buckets=QUEUE_WAIT_BUCKETS,
    ),
    "queued": MetricSpec(
        "llm_gateway_queued_requests",
        Gauge,
        "Requests waiting for an upstream slot right now.",
        (),
        "requests",
        "sum(llm_gateway_queued_requests)",
        options={"multiprocess_mode": "livesum"},
    ),
    "shed": MetricSpec(
        "llm_gateway_shed_requests_total",
        Counter,
        "Requests turned away with 503 because the upstream slots and queue were full, by reason.",
        ("reason",),
        "requests",
        "sum by (reason) (rate(llm_gateway_shed_requests_total[5m]))",
    ),
    "rate_limited": MetricSpec(
        "llm_gateway_rate_limited_requests_total",
        Counter,
        "Requests refused with 429 because an API key spent its budget, by key alias and "
        "which budget (requests or tokens).",
        ("client", "limit"),
        "requests",
        "sum by (client, limit) (rate(llm_gateway_rate_limited_requests_total[5m]))",
    ),
    "rate_limit_store_errors": MetricSpec(
        "llm_gateway_rate_limit_store_errors_total",
        Counter,
        "Round trips to the rate-limit store (Redis) that failed, by operation (take: admit "
        "a request; give: settle its tokens) and reason (timeout, connection or error).",
        ("operation", "reason"),
        "errors",
        "sum by (reason) (rate(llm_gateway_rate_limit_store_errors_total[5m]))",
    ),
    "rate_limit_store_duration": MetricSpec(
        "llm_gateway_rate_limit_store_duration_seconds",
        Histogram,
        "Time of one round trip to the rate-limit store (Redis), failed ones included, in "
        "seconds, by operation (take or give).",
        ("operation",),
        "seconds",
        "histogram_quantile(0.99, sum by (le, operation) "
        "(rate(llm_gateway_rate_limit_store_duration_seconds_bucket[5m])))",
        buckets=STORE_ROUND_TRIP_BUCKETS,
    ),
    "auth_failures": MetricSpec(
        "llm_gateway_auth_failures_total",
        Counter,
        "Requests refused with 401, by reason (missing or invalid API key).",
        ("reason",),
        "requests",
        "sum by (reason) (rate(llm_gateway_auth_failures_total[5m]))",
    ),
}
