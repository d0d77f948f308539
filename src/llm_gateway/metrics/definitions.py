"""Every metric the gateway exposes, declared in one place.

Two layers share one ``/metrics`` exposition:

* HTTP metrics come from starlette-exporter (``http_*``), created by
  :mod:`llm_gateway.metrics.http` so that ``http_requests_total{handler="/generate"}``
  holds the route template, never the raw path.
* LLM metrics (``llm_gateway_*``) are recorded only through the typed methods of
  :class:`llm_gateway.metrics.recorder.Recorder`, so the endpoints can never disagree.

Bucket boundaries follow the OpenTelemetry GenAI semantic conventions
(``gen_ai.client.operation.duration``, ``gen_ai.client.token.usage``,
``gen_ai.server.time_to_first_token``, ``gen_ai.server.time_per_output_token``).
Every label takes its values from a small fixed set: the configured model ids and
upstream base URLs, :mod:`llm_gateway.core.types`' enums and upstream status codes.
No label is named like a target label Prometheus or the Prometheus Operator sets
(:data:`TARGET_LABELS`): the scrape would rename it ``exported_<name>``. The door a
request came in by is ``api``, an upstream pool endpoint's base URL ``upstream_url``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

NAMESPACE = "llm_gateway"
HTTP_PREFIX = "http"
APP_NAME = "llm-gateway"
# Labels the scrape sets on every series: Prometheus (job, instance) and the Prometheus
# Operator's ServiceMonitor and PodMonitor jobs (the rest). A series label of one of
# these names would be renamed exported_<name> (honor_labels: false).
TARGET_LABELS = frozenset(
    ("job", "instance", "namespace", "service", "pod", "container", "endpoint", "node")
)

# gen_ai.client.operation.duration (seconds), extended for long generations.
OPERATION_DURATION_BUCKETS = (
    0.01,
    0.02,
    0.04,
    0.08,
    0.16,
    0.32,
    0.64,
    1.28,
    2.56,
    5.12,
    10.24,
    20.48,
    40.96,
    81.92,
    163.84,
)
# gen_ai.client.token.usage (tokens), cut at one million: no request carries more.
TOKEN_USAGE_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576)
# gen_ai.server.time_to_first_token (seconds).
TIME_TO_FIRST_TOKEN_BUCKETS = (
    0.001,
    0.005,
    0.01,
    0.02,
    0.04,
    0.06,
    0.08,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)
# gen_ai.server.time_per_output_token (seconds).
TIME_PER_OUTPUT_TOKEN_BUCKETS = (
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.4,
    0.5,
    0.75,
    1.0,
    2.5,
)
# Time spent waiting for an upstream slot (seconds): short by design, the queue is bounded.
QUEUE_WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# The gateway's own share of a request (seconds): milliseconds when healthy; the top
# buckets catch queueing and retry backoff.
OVERHEAD_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
# A round trip to the rate-limit store (seconds): loopback to a distant zone, and the timeout.
STORE_ROUND_TRIP_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
)
# HTTP request duration (seconds): LLM calls run far past prometheus-client's 10 s default.
HTTP_DURATION_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    20.0,
    40.0,
    80.0,
    160.0,
)


@dataclass(frozen=True)
class MetricSpec:
    """One metric as documented: the reference in docs/metrics.md is generated from these."""

    name: str  # as exposed, without the _total/_bucket suffixes prometheus-client adds
    kind: type[MetricWrapperBase]
    documentation: str
    labels: tuple[str, ...]
    unit: str
    example: str  # a PromQL query that answers a question with it
    buckets: tuple[float, ...] | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        taken = TARGET_LABELS.intersection(self.labels)
        if taken:
            raise ValueError(f"{self.name}: the scrape would rename its labels {sorted(taken)}")

    @property
    def type(self) -> str:
        return self.kind.__name__.lower()

    def create(self, registry: CollectorRegistry) -> Any:
        extra = dict(self.options)
        if self.buckets is not None:
            extra["buckets"] = self.buckets
        name = self.name.removeprefix(f"{NAMESPACE}_").removesuffix("_total")
        return self.kind(
            name,
            self.documentation,
            self.labels,
            namespace=NAMESPACE,
            registry=registry,
            **extra,
        )


_MODEL_API_STREAM_OUTCOME = ("model", "api", "stream", "outcome")

LLM_METRICS: dict[str, MetricSpec] = {
    "requests": MetricSpec(
        "llm_gateway_requests_total",
        Counter,
        "Requests the gateway core handled, by model, API (the door it came in by), "
        "streaming mode and outcome.",
        _MODEL_API_STREAM_OUTCOME,
        "requests",
        "sum by (model, outcome) (rate(llm_gateway_requests_total[5m]))",
    ),
    "request_duration": MetricSpec(
        "llm_gateway_request_duration_seconds",
        Histogram,
        "End-to-end time the gateway spent on a request, in seconds, until the last byte "
        "of the response (streams included), by model, API, streaming mode and outcome.",
        _MODEL_API_STREAM_OUTCOME,
        "seconds",
        "histogram_quantile(0.95, sum by (le, model) "
        "(rate(llm_gateway_request_duration_seconds_bucket[5m])))",
        buckets=OPERATION_DURATION_BUCKETS,
    ),
    "upstream_duration": MetricSpec(
        "llm_gateway_upstream_request_duration_seconds",
        Histogram,
        "Time spent in calls to the upstream model server, in seconds, from sending the "
        "request to its last byte, by model and outcome.",
        ("model", "outcome"),
        "seconds",
        "histogram_quantile(0.95, sum by (le, model) "
        "(rate(llm_gateway_upstream_request_duration_seconds_bucket[5m])))",
        buckets=OPERATION_DURATION_BUCKETS,
    ),
    "prompt_tokens": MetricSpec(
        "llm_gateway_prompt_tokens_total",
        Counter,
        "Prompt (input) tokens sent to the upstream, as reported by it (else estimated: see "
        "llm_gateway_estimated_tokens_total), by model and API.",
        ("model", "api"),
        "tokens",
        "sum by (model) (rate(llm_gateway_prompt_tokens_total[5m]))",
    ),
    "completion_tokens": MetricSpec(
        "llm_gateway_completion_tokens_total",
        Counter,
        "Completion (output) tokens generated by the upstream, by model and API.",
        ("model", "api"),
        "tokens",
        "sum by (model) (rate(llm_gateway_completion_tokens_total[5m]))",
    ),
    "estimated_tokens": MetricSpec(
        "llm_gateway_estimated_tokens_total",
        Counter,
        "Of the prompt and completion tokens counted, those the gateway estimated because "
        "the upstream reported no count for text it read or wrote (one token per four "
        "characters; embedding inputs by words and punctuation marks), by model and token "
        "type (prompt or completion).",
        ("model", "type"),
        "tokens",
        "sum by (model, type) (rate(llm_gateway_estimated_tokens_total[5m]))",
    ),
    "tokens_per_request": MetricSpec(
        "llm_gateway_tokens_per_request",
        Histogram,
        "Tokens used by one successful request, by model, API and token type "
        "(prompt or completion).",
        ("model", "api", "type"),
        "tokens",
        "histogram_quantile(0.5, sum by (le, type) "
        "(rate(llm_gateway_tokens_per_request_bucket[5m])))",
        buckets=TOKEN_USAGE_BUCKETS,
    ),
    "time_to_first_token": MetricSpec(
        "llm_gateway_time_to_first_token_seconds",
        Histogram,
        "Time from receiving a streamed request to relaying its first generated token, "
        "in seconds, by model and API.",
        ("model", "api"),
        "seconds",
        "histogram_quantile(0.95, sum by (le, model) "
        "(rate(llm_gateway_time_to_first_token_seconds_bucket[5m])))",
        buckets=TIME_TO_FIRST_TOKEN_BUCKETS,
    ),
    "time_per_output_token": MetricSpec(
        "llm_gateway_time_per_output_token_seconds",
        Histogram,
        "Mean time between generated tokens of one streamed response after the first, "
        "in seconds, by model and API.",
        ("model", "api"),
        "seconds",
        "histogram_quantile(0.5, sum by (le, model) "
        "(rate(llm_gateway_time_per_output_token_seconds_bucket[5m])))",
        buckets=TIME_PER_OUTPUT_TOKEN_BUCKETS,
    ),
    "tool_calls": MetricSpec(
        "llm_gateway_tool_calls_total",
        Counter,
        "Tool calls the upstream returned in successful chat completions, streamed or not, "
        "by model.",
        ("model",),
        "calls",
        "sum by (model) (rate(llm_gateway_tool_calls_total[5m]))",
    ),
    "upstream_errors": MetricSpec(
        "llm_gateway_upstream_errors_total",
        Counter,
        "Failed upstream calls, by model, reason and upstream HTTP status code "
        "(empty when no response arrived).",
        ("model", "reason", "status_code"),
        "errors",
        "sum by (reason) (rate(llm_gateway_upstream_errors_total[5m]))",
    ),
    "upstream_in_flight": MetricSpec(
        "llm_gateway_upstream_requests_in_flight",
        Gauge,
        "Requests currently waiting on or streaming from the upstream, by model.",
        ("model",),
        "requests",
        "sum by (model) (llm_gateway_upstream_requests_in_flight)",
        options={"multiprocess_mode": "livesum"},
    ),
    "retries": MetricSpec(
        "llm_gateway_upstream_retries_total",
        Counter,
        "Upstream attempts made again after a retryable failure, by model and the reason "
        "the previous attempt failed.",
        ("model", "reason"),
        "attempts",
        "sum by (reason) (rate(llm_gateway_upstream_retries_total[5m]))",
    ),
    "fallbacks": MetricSpec(
        "llm_gateway_fallbacks_total",
        Counter,
        "Requests handed to a fallback model after the requested one kept failing, by the "
        "fallback model tried.",
        ("model",),
        "requests",
        "sum by (model) (rate(llm_gateway_fallbacks_total[5m]))",
    ),
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
    "endpoint_in_flight": MetricSpec(
        "llm_gateway_upstream_endpoint_requests_in_flight",
        Gauge,
        "Requests sent to one upstream pool endpoint whose response is not yet closed, by "
        "upstream_url (the endpoint's configured base URL).",
        ("upstream_url",),
        "requests",
        "sum by (upstream_url) (llm_gateway_upstream_endpoint_requests_in_flight)",
        options={"multiprocess_mode": "livesum"},
    ),
    "endpoint_requests": MetricSpec(
        "llm_gateway_upstream_endpoint_requests_total",
        Counter,
        "Requests sent to one upstream pool endpoint, by upstream_url and outcome (success: "
        "any status below 500; server_error, connection or timeout).",
        ("upstream_url", "outcome"),
        "requests",
        "sum by (upstream_url, outcome) (rate(llm_gateway_upstream_endpoint_requests_total[5m]))",
    ),
    "endpoint_time_to_first_byte": MetricSpec(
        "llm_gateway_upstream_endpoint_time_to_first_byte_seconds",
        Histogram,
        "Time from sending a request to one upstream pool endpoint to its response's "
        "headers (or its failure), in seconds, by upstream_url.",
        ("upstream_url",),
        "seconds",
        "histogram_quantile(0.95, sum by (le, upstream_url) "
        "(rate(llm_gateway_upstream_endpoint_time_to_first_byte_seconds_bucket[5m])))",
        buckets=TIME_TO_FIRST_TOKEN_BUCKETS,
    ),
    "endpoint_addresses": MetricSpec(
        "llm_gateway_upstream_endpoint_addresses",
        Gauge,
        "Addresses an upstream pool endpoint resolves to (1 unless a host name resolves "
        "to several), by upstream_url.",
        ("upstream_url",),
        "addresses",
        "max by (upstream_url) (llm_gateway_upstream_endpoint_addresses)",
        options={"multiprocess_mode": "livemax"},
    ),
    "endpoint_ejected": MetricSpec(
        "llm_gateway_upstream_endpoint_ejected_addresses",
        Gauge,
        "Addresses of an upstream pool endpoint out of rotation right now (ejected after "
        "consecutive failures, until a probe succeeds), by upstream_url.",
        ("upstream_url",),
        "addresses",
        "max by (upstream_url) (llm_gateway_upstream_endpoint_ejected_addresses)",
        options={"multiprocess_mode": "livemax"},
    ),
    "endpoint_ejections": MetricSpec(
        "llm_gateway_upstream_endpoint_ejections_total",
        Counter,
        "Times an address of an upstream pool endpoint was taken out of rotation, by upstream_url.",
        ("upstream_url",),
        "ejections",
        "sum by (upstream_url) (increase(llm_gateway_upstream_endpoint_ejections_total[1h]))",
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
    "client_requests": MetricSpec(
        "llm_gateway_client_requests_total",
        Counter,
        "Requests the gateway core handled, by client (API key alias; `anonymous` when API "
        "keys are off), model and outcome.",
        ("client", "model", "outcome"),
        "requests",
        "topk(10, sum by (client) (increase(llm_gateway_client_requests_total[1d])))",
    ),
    "client_tokens": MetricSpec(
        "llm_gateway_client_tokens_total",
        Counter,
        "Tokens of successful requests, as reported by the upstream, by client (API key "
        "alias; `anonymous` when API keys are off), model and token type.",
        ("client", "model", "type"),
        "tokens",
        "sum by (client, type) (rate(llm_gateway_client_tokens_total[5m]))",
    ),
    "cost": MetricSpec(
        "llm_gateway_cost_usd_total",
        Counter,
        "Estimated cost of successful requests in USD: their prompt and completion tokens "
        "at LLM_GATEWAY_PRICES, by client (API key alias; `anonymous` when API keys are "
        "off) and model. An estimate: the upstream's own bill may round or price otherwise; "
        "models without a price add nothing.",
        ("client", "model"),
        "USD",
        "topk(10, sum by (client) (increase(llm_gateway_cost_usd_total[30d])))",
    ),
    "overhead": MetricSpec(
        "llm_gateway_overhead_seconds",
        Histogram,
        "Time the gateway added to a request before its response could start, in seconds: "
        "from arrival to the complete answer minus the upstream calls (non-streamed), or to "
        "the first token minus the upstream's time to its first token (streamed). Includes "
        "queueing for an upstream slot and retry backoff. By API and streaming mode.",
        ("api", "stream"),
        "seconds",
        "histogram_quantile(0.99, sum by (le, api) "
        "(rate(llm_gateway_overhead_seconds_bucket[5m])))",
        buckets=OVERHEAD_BUCKETS,
    ),
    "build_info": MetricSpec(
        "llm_gateway_build_info",
        Gauge,
        "Always 1; labels carry the gateway version, its default model and the kind of "
        "upstream it talks to (simulator, endpoint or providers).",
        ("version", "default_model", "upstream_kind"),
        "info",
        "count by (version, upstream_kind) (llm_gateway_build_info)",
        options={"multiprocess_mode": "max"},
    ),
}

_HTTP_LABELS = ("method", "path", "status_code", "app_name", "handler")

# Created by starlette-exporter (see app.py); documented here beside the others.
HTTP_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec(
        "http_requests_total",
        Counter,
        "HTTP requests served, by method, route template (handler; path holds the same), "
        "status code and app. Probes and /metrics are not counted.",
        _HTTP_LABELS,
        "requests",
        'sum(rate(http_requests_total{handler="/generate"}[5m]))',
    ),
    MetricSpec(
        "http_request_duration_seconds",
        Histogram,
        "HTTP request duration until the response's last body message (streams included), "
        "in seconds.",
        _HTTP_LABELS,
        "seconds",
        "histogram_quantile(0.99, sum by (le, handler) "
        "(rate(http_request_duration_seconds_bucket[5m])))",
        buckets=HTTP_DURATION_BUCKETS,
    ),
    MetricSpec(
        "http_requests_in_progress",
        Gauge,
        "HTTP requests being served right now, by method and handler.",
        ("method", "app_name", "handler"),
        "requests",
        "sum by (handler) (http_requests_in_progress)",
    ),
    MetricSpec(
        "http_request_body_bytes_total",
        Counter,
        "Request body bytes received, from Content-Length.",
        _HTTP_LABELS,
        "bytes",
        "sum by (handler) (rate(http_request_body_bytes_total[5m]))",
    ),
    MetricSpec(
        "http_response_body_bytes_total",
        Counter,
        "Response body bytes sent, from Content-Length (streamed responses count 0).",
        _HTTP_LABELS,
        "bytes",
        "sum by (handler) (rate(http_response_body_bytes_total[5m]))",
    ),
)
