"""The upstream pool: each configured base URL, its addresses, their health and ejections.

Every series carries ``upstream``, the routing table's name of the upstream the endpoint
belongs to (``default`` for the shorthand's), beside ``upstream_url``: two upstreams may
list the same base URL, each with its own pool.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from llm_gateway.metrics.spec import TIME_TO_FIRST_TOKEN_BUCKETS, MetricSpec

POOL_METRICS: dict[str, MetricSpec] = {
    "endpoint_in_flight": MetricSpec(
        "llm_gateway_upstream_endpoint_requests_in_flight",
        Gauge,
        "Requests sent to one upstream pool endpoint whose response is not yet closed, by "
        "upstream (its name in the routing table) and upstream_url (the endpoint's "
        "configured base URL).",
        ("upstream", "upstream_url"),
        "requests",
        "sum by (upstream, upstream_url) (llm_gateway_upstream_endpoint_requests_in_flight)",
        options={"multiprocess_mode": "livesum"},
    ),
    "endpoint_requests": MetricSpec(
        "llm_gateway_upstream_endpoint_requests_total",
        Counter,
        "Requests sent to one upstream pool endpoint, by upstream, upstream_url and outcome "
        "(success: any status below 500; server_error, connection or timeout).",
        ("upstream", "upstream_url", "outcome"),
        "requests",
        "sum by (upstream, upstream_url, outcome) "
        "(rate(llm_gateway_upstream_endpoint_requests_total[5m]))",
    ),
    "endpoint_time_to_first_byte": MetricSpec(
        "llm_gateway_upstream_endpoint_time_to_first_byte_seconds",
        Histogram,
        "Time from sending a request to one upstream pool endpoint to its response's "
        "headers (or its failure), in seconds, by upstream and upstream_url.",
        ("upstream", "upstream_url"),
        "seconds",
        "histogram_quantile(0.95, sum by (le, upstream, upstream_url) "
        "(rate(llm_gateway_upstream_endpoint_time_to_first_byte_seconds_bucket[5m])))",
        buckets=TIME_TO_FIRST_TOKEN_BUCKETS,
    ),
    "endpoint_addresses": MetricSpec(
        "llm_gateway_upstream_endpoint_addresses",
        Gauge,
        "Addresses an upstream pool endpoint resolves to (1 unless a host name resolves "
        "to several), by upstream and upstream_url.",
        ("upstream", "upstream_url"),
        "addresses",
        "max by (upstream, upstream_url) (llm_gateway_upstream_endpoint_addresses)",
        options={"multiprocess_mode": "livemax"},
    ),
    "endpoint_ejected": MetricSpec(
        "llm_gateway_upstream_endpoint_ejected_addresses",
        Gauge,
        "Addresses of an upstream pool endpoint out of rotation right now (ejected after "
        "consecutive failures, until a probe succeeds), by upstream and upstream_url.",
        ("upstream", "upstream_url"),
        "addresses",
        "max by (upstream, upstream_url) (llm_gateway_upstream_endpoint_ejected_addresses)",
        options={"multiprocess_mode": "livemax"},
    ),
    "endpoint_ejections": MetricSpec(
        "llm_gateway_upstream_endpoint_ejections_total",
        Counter,
        "Times an address of an upstream pool endpoint was taken out of rotation, by "
        "upstream and upstream_url.",
        ("upstream", "upstream_url"),
        "ejections",
        "sum by (upstream, upstream_url) "
        "(increase(llm_gateway_upstream_endpoint_ejections_total[1h]))",
    ),
}
