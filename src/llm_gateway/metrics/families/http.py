"""The HTTP metrics starlette-exporter creates (``http_*``, see :mod:`llm_gateway.metrics.http`),
documented here beside the others."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from llm_gateway.metrics.spec import HTTP_DURATION_BUCKETS, MetricSpec

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
