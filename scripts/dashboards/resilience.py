"""The overview's capacity rows: saturation, the resilience features at work, scale-out.

Failover (its panels in failover.py), load shedding, per-key rate limits and API keys,
the upstream pool and the rate-limit store: each panel names the alert that watches it
(rules/failover.yaml, rules/upstream.yaml, rules/capacity.yaml, rules/scale-out.yaml).
"""

from __future__ import annotations

from scripts.dashboards import failover
from scripts.dashboards.board import Row
from scripts.dashboards.panels import Target, timeseries_panel
from scripts.dashboards.selectors import HANDLER, MODEL, UPSTREAM, quantile, rate, sel

# Share of requests shed, as LlmGatewayLoadShedding computes it: shed requests are
# counted in llm_gateway_requests_total with outcome="rejected".
SHED_RATIO = (
    f"(sum({rate('llm_gateway_shed_requests_total')}) or vector(0))\n"
    f"/\nsum({rate('llm_gateway_requests_total')})"
)


SATURATION = Row(
    "Saturation",
    [
        timeseries_panel(
            "HTTP requests in progress",
            "Requests the gateway is handling right now, by handler.",
            "short",
            [
                Target(
                    f"sum by (handler) ({sel('http_requests_in_progress', HANDLER)})",
                    "{{handler}}",
                )
            ],
            width=6,
        ),
        timeseries_panel(
            "Upstream requests in flight",
            "Requests waiting on or streaming from the upstream right now, by model.",
            "short",
            [
                Target(
                    f"sum by (model) ({sel('llm_gateway_upstream_requests_in_flight', MODEL)})",
                    "{{model}}",
                )
            ],
            width=6,
        ),
        timeseries_panel(
            "Request and response body bytes/s",
            "Bytes per second received in request bodies and sent in response bodies, selected "
            "handlers.",
            "Bps",
            [
                Target(f"sum({rate('http_request_body_bytes_total', HANDLER)})", "received"),
                Target(f"sum({rate('http_response_body_bytes_total', HANDLER)})", "sent"),
            ],
            width=6,
        ),
        timeseries_panel(
            "Mean request and response size",
            "Mean request body and response body size per request, by handler.",
            "bytes",
            [
                Target(
                    f"sum by (handler) ({rate('http_request_body_bytes_total', HANDLER)})\n"
                    f"/\nsum by (handler) ({rate('http_requests_total', HANDLER)})",
                    "request {{handler}}",
                ),
                Target(
                    f"sum by (handler) ({rate('http_response_body_bytes_total', HANDLER)})\n"
                    f"/\nsum by (handler) ({rate('http_requests_total', HANDLER)})",
                    "response {{handler}}",
                ),
            ],
            width=6,
        ),
    ],
)


RESILIENCE = Row(
    "Resilience",
    [
        *failover.PANELS,
        timeseries_panel(
            "Shed requests/s by reason",
            "Requests the gateway turned away with 503 and Retry-After because all upstream "
            "slots were taken, by reason: queue_full (the wait queue was full: refused at "
            "once) or queue_timeout (waited LLM_GATEWAY_QUEUE_TIMEOUT_SECONDS for a slot).",
            "reqps",
            [
                Target(
                    f"sum by (reason) ({rate('llm_gateway_shed_requests_total')})",
                    "{{reason}}",
                )
            ],
            width=6,
        ),
        timeseries_panel(
            "Share of requests shed",
            "Shed requests (503) as a share of the requests the gateway core handled. "
            "LlmGatewayLoadShedding fires when it stays above the 2 % line for 10 minutes: "
            "the gateway is at capacity.",
            "percentunit",
            [Target(SHED_RATIO, "shed")],
            width=6,
            thresholds=(("green", None), ("orange", 0.02)),
            threshold_lines=True,
            min_value=0,
        ),
        timeseries_panel(
            "Queued requests",
            "Requests waiting for an upstream slot right now, summed over gateway processes "
            "(each holds LLM_GATEWAY_MAX_CONCURRENCY slots and a queue of "
            "LLM_GATEWAY_MAX_QUEUE).",
            "short",
            [Target(f"sum({sel('llm_gateway_queued_requests')})", "queued")],
            width=6,
            min_value=0,
        ),
        timeseries_panel(
            "Queue wait",
            "p50 and p99 of the time requests waited for an upstream slot when all were "
            "taken (shed requests included, up to LLM_GATEWAY_QUEUE_TIMEOUT_SECONDS). "
            "Requests that found a free slot do not wait and are not counted.",
            "s",
            [
                Target(
                    f"histogram_quantile({q}, sum by (le) "
                    f"({rate('llm_gateway_queue_wait_seconds_bucket')}))",
                    f"p{round(q * 100)}",
                )
                for q in (0.5, 0.99)
            ],
            width=6,
        ),
        timeseries_panel(
            "Rate-limited requests/s by client and limit",
            "Requests refused with 429 and Retry-After because an API key spent its budget, "
            "by key alias (client) and budget (requests or tokens per minute). One client "
            "here is a client problem; all of them, a budget set too low.",
            "reqps",
            [
                Target(
                    f"sum by (client, limit) ({rate('llm_gateway_rate_limited_requests_total')})",
                    "{{client}} {{limit}}",
                )
            ],
            width=12,
        ),
        timeseries_panel(
            "Auth failures/s by reason",
            "Requests refused with 401, by reason: missing (no API key sent) or invalid (a "
            "key the gateway does not know: mistyped, revoked or rotated). A steady rise of "
            "invalid keys can be a client left behind by a rotation, or key guessing.",
            "reqps",
            [
                Target(
                    f"sum by (reason) ({rate('llm_gateway_auth_failures_total')})",
                    "{{reason}}",
                )
            ],
            width=12,
        ),
    ],
)


SCALE_OUT = Row(
    "Upstream pool and rate-limit store",
    [
        timeseries_panel(
            "Upstream requests in flight by upstream URL",
            "Requests sent to each upstream pool endpoint (a base URL of an upstream: "
            "LLM_GATEWAY_UPSTREAM_URL, or a routing table entry's urls) whose response is not "
            "yet closed, by upstream (its name in the table) and URL. The pool sends each "
            "request to the less busy of two addresses: an endpoint holding far more than the "
            "upstream's others is slower, or the others are out of rotation.",
            "short",
            [
                Target(
                    "sum by (upstream, upstream_url) "
                    f"({sel('llm_gateway_upstream_endpoint_requests_in_flight', UPSTREAM)})",
                    "{{upstream}} {{upstream_url}}",
                )
            ],
            width=6,
            min_value=0,
        ),
        timeseries_panel(
            "Upstream endpoint requests/s by outcome",
            "Requests per second to each upstream pool endpoint, by upstream, URL and "
            "outcome: success (any status below 500), server_error, connection or timeout.",
            "reqps",
            [
                Target(
                    "sum by (upstream, upstream_url, outcome) "
                    f"({rate('llm_gateway_upstream_endpoint_requests_total', UPSTREAM)})",
                    "{{upstream}} {{upstream_url}} {{outcome}}",
                )
            ],
            width=6,
        ),
        timeseries_panel(
            "Upstream endpoint time to first byte p95",
            "p95 of the time from sending a request to an upstream pool endpoint to its "
            "response's headers (or its failure), by upstream and URL.",
            "s",
            [
                Target(
                    quantile(
                        0.95,
                        "llm_gateway_upstream_endpoint_time_to_first_byte_seconds_bucket",
                        UPSTREAM,
                        by=("upstream", "upstream_url"),
                    ),
                    "{{upstream}} {{upstream_url}}",
                )
            ],
            width=6,
        ),
        timeseries_panel(
            "Upstream addresses out of rotation",
            "Addresses of each upstream pool endpoint ejected after consecutive failures, "
            "until a probe succeeds, by upstream and URL. LlmGatewayUpstreamEndpointDown fires "
            "when one stays out for 5 minutes; the upstream's other endpoints carry its "
            "traffic meanwhile.",
            "short",
            [
                Target(
                    "max by (upstream, upstream_url) "
                    f"({sel('llm_gateway_upstream_endpoint_ejected_addresses', UPSTREAM)})",
                    "{{upstream}} {{upstream_url}}",
                )
            ],
            width=6,
            thresholds=(("green", None), ("red", 1)),
            threshold_lines=True,
            min_value=0,
        ),
        timeseries_panel(
            "Rate-limit store failures/s",
            "Round trips to the rate-limit store (Redis, LLM_GATEWAY_REDIS_URL) that failed, "
            "by operation (take: admit a request; give: settle its tokens) and reason. "
            "LlmGatewayRateLimitStoreFailing fires above 5 % of round trips for 5 minutes. "
            "0 while every round trip succeeds; empty when the limits are kept in memory.",
            "reqps",
            [
                Target(
                    "sum by (operation, reason) "
                    f"({rate('llm_gateway_rate_limit_store_errors_total')})\n"
                    # 0 rather than no data while every round trip succeeds.
                    "or 0 * sum by (operation) "
                    f"({rate('llm_gateway_rate_limit_store_duration_seconds_count')})",
                    "{{operation}} {{reason}}",
                )
            ],
            width=12,
        ),
        timeseries_panel(
            "Rate-limit store round trip p99",
            "p99 of one round trip to the rate-limit store, failed ones included, by "
            "operation: a rise here is added to every request's latency.",
            "s",
            [
                Target(
                    quantile(
                        0.99,
                        "llm_gateway_rate_limit_store_duration_seconds_bucket",
                        by=("operation",),
                    ),
                    "{{operation}}",
                )
            ],
            width=12,
        ),
    ],
)


def rows() -> list[Row]:
    return [SATURATION, RESILIENCE, SCALE_OUT]
