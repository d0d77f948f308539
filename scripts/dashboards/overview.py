"""LLM Gateway / Overview: traffic, errors, latency, tokens, saturation, resilience, SLOs."""

from __future__ import annotations

from typing import Any

from scripts.dashboards import resilience, slo, variables
from scripts.dashboards.board import Row, dashboard
from scripts.dashboards.panels import Target, stat_panel, timeseries_panel
from scripts.dashboards.selectors import (
    GENERATE,
    HANDLER,
    MODEL,
    RATE_LIMITED,
    STATUS_5XX,
    STATUS_429,
    quantile,
    rate,
    sel,
)

# Gateway targets up: `up` of the targets that report the gateway's build info, since
# "All" jobs (.+) would count every target of the Prometheus.
TARGETS_UP = (
    f"count({sel('up')} == 1 and on (job, instance) {sel('llm_gateway_build_info')}) or vector(0)"
)


def quantiles(metric: str, matcher: str) -> list[Target]:
    return [Target(quantile(q, metric, matcher), f"p{round(q * 100)}") for q in (0.5, 0.95, 0.99)]


OVERVIEW = Row(
    "Overview",
    [
        stat_panel(
            "Gateway targets up",
            "Gateway targets of the selected jobs Prometheus scraped successfully (up == 1, "
            "for targets that report llm_gateway_build_info). 0 means the gateway or its "
            "scrape is down: LlmGatewayTargetDown.",
            "short",
            [Target(TARGETS_UP, "targets up")],
            width=4,
            thresholds=(("red", None), ("green", 1)),
        ),
        stat_panel(
            "Requests/s",
            "HTTP requests per second to the selected handlers, all status codes.",
            "reqps",
            [Target(f"sum({rate('http_requests_total', HANDLER)})", "requests/s")],
            width=4,
        ),
        stat_panel(
            "5xx error ratio",
            "Share of requests to the selected handlers answered with a 5xx status code. "
            "Passed-through 429s are not counted.",
            "percentunit",
            [
                Target(
                    f"(sum({rate('http_requests_total', HANDLER, STATUS_5XX)}) or vector(0))\n"
                    f"/\nsum({rate('http_requests_total', HANDLER)})",
                    "5xx ratio",
                )
            ],
            width=4,
            thresholds=(("green", None), ("orange", 0.005), ("red", 0.05)),
        ),
        stat_panel(
            "p95 request duration",
            "95th percentile HTTP request duration for the selected handlers, streams measured "
            "to their last byte.",
            "s",
            [
                Target(
                    "histogram_quantile(0.95, sum by (le) "
                    f"({rate('http_request_duration_seconds_bucket', HANDLER)}))",
                    "p95",
                )
            ],
            width=4,
            thresholds=(("green", None), ("orange", 5), ("red", 20)),
        ),
        stat_panel(
            "Tokens/s",
            "Prompt plus completion tokens per second for the selected models, as reported by "
            "the upstream.",
            "short",
            [
                Target(
                    f"sum({rate('llm_gateway_prompt_tokens_total', MODEL)})\n+\n"
                    f"sum({rate('llm_gateway_completion_tokens_total', MODEL)})",
                    "tokens/s",
                )
            ],
            width=4,
        ),
        stat_panel(
            "Upstream requests in flight",
            "Requests waiting on or streaming from the upstream right now, selected models.",
            "short",
            [
                Target(
                    f"sum({sel('llm_gateway_upstream_requests_in_flight', MODEL)})",
                    "in flight",
                )
            ],
            width=4,
        ),
    ],
)


TRAFFIC = Row(
    "Traffic",
    [
        timeseries_panel(
            "Requests/s by handler and status code",
            "HTTP requests per second by route template and status code. Unknown paths are "
            "grouped under __unknown__; health probes and /metrics are not counted.",
            "reqps",
            [
                Target(
                    f"sum by (handler, status_code) ({rate('http_requests_total', HANDLER)})",
                    "{{handler}} {{status_code}}",
                )
            ],
            width=12,
        ),
        timeseries_panel(
            "All requests (http_requests_total)",
            "The documented query http_requests_total, as a rate: every request the gateway "
            "served, all handlers and status codes.",
            "reqps",
            [Target(f"sum({rate('http_requests_total')})", "all requests")],
            width=6,
        ),
        timeseries_panel(
            '/generate requests (http_requests_total{handler="/generate"})',
            'The documented query http_requests_total{handler="/generate"}, as a rate by '
            "status code: requests to the generate endpoint.",
            "reqps",
            [
                Target(
                    f"sum by (status_code) ({rate('http_requests_total', GENERATE)})",
                    "{{status_code}}",
                )
            ],
            width=6,
        ),
        timeseries_panel(
            "LLM requests/s by model, API and outcome",
            "Requests the gateway core handled, by model, API (the door they came in by), "
            "streaming mode and outcome "
            "(success, error, cancelled by the client, or rejected by the gateway itself: "
            "shed with 503 or over a key's rate limit with 429).",
            "reqps",
            [
                Target(
                    "sum by (model, api, stream, outcome) "
                    f"({rate('llm_gateway_requests_total', MODEL)})",
                    "{{model}} {{api}} stream={{stream}} {{outcome}}",
                )
            ],
            width=16,
        ),
        stat_panel(
            "Gateway instances by version",
            "Gateway processes reporting llm_gateway_build_info, by version, default model and "
            "kind of upstream (simulator, endpoint or providers).",
            "short",
            [
                Target(
                    "count by (version, default_model, upstream_kind) "
                    f"({sel('llm_gateway_build_info')})",
                    "{{version}} {{default_model}} {{upstream_kind}}",
                )
            ],
            width=8,
            names=True,
        ),
    ],
)


ERRORS = Row(
    "Errors",
    [
        timeseries_panel(
            "5xx error ratio by handler",
            "Share of each handler's requests answered with a 5xx status code.",
            "percentunit",
            [
                Target(
                    f"sum by (handler) ({rate('http_requests_total', HANDLER, STATUS_5XX)})\n"
                    f"/\nsum by (handler) ({rate('http_requests_total', HANDLER)})",
                    "{{handler}}",
                )
            ],
            width=8,
            min_value=0,
        ),
        timeseries_panel(
            "Upstream errors/s by reason",
            "Failed upstream calls per second by reason (rate_limited, timeout, server_error, "
            "connection, bad_response, client_error), upstream status code and model. "
            "LlmGatewayUpstreamErrorSpike watches each reason's share of calls.",
            "reqps",
            [
                Target(
                    "sum by (reason, status_code, model) "
                    f"({rate('llm_gateway_upstream_errors_total', MODEL)})",
                    "{{reason}} {{status_code}} {{model}}",
                )
            ],
            width=8,
        ),
        timeseries_panel(
            "429s passed through",
            "Rate-limited upstream calls (by model, counted per attempt, retries included) "
            "and the 429 responses clients received (by handler): upstream 429s passed on "
            "once retries ran out, and per-key budgets the gateway enforces itself. "
            "LlmGatewayUpstreamRateLimited watches the former.",
            "reqps",
            [
                Target(
                    f"sum by (model) "
                    f"({rate('llm_gateway_upstream_errors_total', MODEL, RATE_LIMITED)})",
                    "upstream 429 {{model}}",
                ),
                Target(
                    f"sum by (handler) ({rate('http_requests_total', HANDLER, STATUS_429)})",
                    "to clients {{handler}}",
                ),
            ],
            width=8,
        ),
    ],
)


LATENCY = Row(
    "Latency",
    [
        timeseries_panel(
            "Request duration (HTTP)",
            "p50, p95 and p99 of HTTP request duration for the selected handlers, streams "
            "measured to their last byte.",
            "s",
            quantiles("http_request_duration_seconds_bucket", HANDLER),
            width=8,
        ),
        timeseries_panel(
            "Request duration p95 by model and API (gateway core)",
            "95th percentile of the time the gateway core spent on a request, until the last "
            "byte of the response, by model, API and streaming mode.",
            "s",
            [
                Target(
                    "histogram_quantile(0.95, sum by (le, model, api, stream) "
                    f"({rate('llm_gateway_request_duration_seconds_bucket', MODEL)}))",
                    "{{model}} {{api}} stream={{stream}}",
                )
            ],
            width=8,
        ),
        timeseries_panel(
            "Upstream call duration",
            "p50, p95 and p99 of the time spent in calls to the upstream model server, from "
            "sending the request to its last byte, selected models.",
            "s",
            quantiles("llm_gateway_upstream_request_duration_seconds_bucket", MODEL),
            width=8,
        ),
        timeseries_panel(
            "Time to first token",
            "p50, p95 and p99 time from receiving a streamed request to relaying its first "
            "token, selected models. LlmGatewayTimeToFirstTokenHigh fires when p95 stays above "
            "the 2.5 s line.",
            "s",
            quantiles("llm_gateway_time_to_first_token_seconds_bucket", MODEL),
            width=8,
            thresholds=(("green", None), ("red", 2.5)),
            threshold_lines=True,
        ),
        timeseries_panel(
            "Time per output token",
            "p50, p95 and p99 of the mean time between generated tokens of a streamed response "
            "after the first, selected models.",
            "s",
            quantiles("llm_gateway_time_per_output_token_seconds_bucket", MODEL),
            width=8,
        ),
        timeseries_panel(
            "Gateway overhead",
            "p50 and p99 of the time the gateway itself added before a response could start "
            "(the X-Gateway-Overhead-Ms header): non-streamed, everything but the upstream "
            "calls; streamed, the time to first token minus the upstream's. Milliseconds when "
            "healthy; a rise is the gateway's own doing (CPU, event loop, queueing for a slot, "
            "retry backoff): see the runbooks.",
            "s",
            [
                Target(
                    quantile(q, "llm_gateway_overhead_seconds_bucket", by=("api", "stream")),
                    f"p{round(q * 100)} {{{{api}}}} stream={{{{stream}}}}",
                )
                for q in (0.5, 0.99)
            ],
            width=8,
        ),
        timeseries_panel(
            "Event loop lag",
            "p50 and p99 of how late each pod's event loops ran a timer due every 0.25 s: "
            "how long they stood still, every request and stream of the worker with them. "
            "Milliseconds when healthy; tens of milliseconds are the cycle collector's full "
            "passes or a saturated core (runbooks: Gateway overhead rising).",
            "s",
            [
                Target(
                    quantile(q, "llm_gateway_event_loop_lag_seconds_bucket", by=("instance",)),
                    f"p{round(q * 100)} {{{{instance}}}}",
                )
                for q in (0.5, 0.99)
            ],
            width=8,
        ),
    ],
)


TOKENS = Row(
    "Tokens",
    [
        timeseries_panel(
            "Tokens/s by model",
            "Prompt (input) and completion (output) tokens per second, as reported by the "
            "upstream, by model.",
            "short",
            [
                Target(
                    f"sum by (model) ({rate('llm_gateway_prompt_tokens_total', MODEL)})",
                    "{{model}} prompt",
                ),
                Target(
                    f"sum by (model) ({rate('llm_gateway_completion_tokens_total', MODEL)})",
                    "{{model}} completion",
                ),
            ],
            width=12,
        ),
        timeseries_panel(
            "Tokens per request",
            "Mean and 95th percentile of the tokens one successful request used, by token type "
            "(prompt or completion), selected models.",
            "short",
            [
                Target(
                    f"sum by (type) ({rate('llm_gateway_tokens_per_request_sum', MODEL)})\n"
                    f"/\nsum by (type) ({rate('llm_gateway_tokens_per_request_count', MODEL)})",
                    "mean {{type}}",
                ),
                Target(
                    "histogram_quantile(0.95, sum by (le, type) "
                    f"({rate('llm_gateway_tokens_per_request_bucket', MODEL)}))",
                    "p95 {{type}}",
                ),
            ],
            width=12,
        ),
    ],
)


def rows() -> list[Row]:
    return [OVERVIEW, TRAFFIC, ERRORS, LATENCY, TOKENS, *resilience.rows(), slo.row()]


def build() -> dict[str, Any]:
    return dashboard(
        uid="llm-gateway-overview",
        title="LLM Gateway / Overview",
        description="Traffic, errors, latency, tokens, saturation, resilience and SLOs of the "
        "LLM gateway, for the gateways the job, namespace and instance variables select. "
        "Alerts: rules/ (charts/llm-monitor/rules); runbooks: docs/runbooks.md.",
        rows=rows(),
        variables=[
            variables.datasource(),
            *variables.scope(),
            # Every model tried upstream: a request is counted under the model that
            # answered it, so a model whose requests all fail over has no requests of
            # its own, and it is the one to look at.
            variables.label(
                "model",
                "llm_gateway_upstream_request_duration_seconds_count",
                "Models the gateway called upstream, answering or failing; filters the LLM panels.",
            ),
            variables.label(
                "handler",
                "http_requests_total",
                "Route templates (/generate, /v1/chat/completions, ...); filters the HTTP panels.",
            ),
            variables.label(
                "upstream",
                "llm_gateway_upstream_endpoint_addresses",
                "Upstreams of the routing table whose base URLs the gateway balances as a pool "
                "(default without a table); filters the upstream pool panels.",
            ),
            *slo.variables(),
        ],
    )
