#!/usr/bin/env python3
"""Generate the Grafana dashboards under dashboards/ from the definitions below.

    python scripts/generate_dashboards.py           # rewrite dashboards/*.json
    python scripts/generate_dashboards.py --check   # exit 1 when a committed file is stale

The JSON is committed (Grafana's UI import and the chart's sidecar ConfigMaps read
it as is); this script only keeps its many panels consistent: one datasource
variable used by every panel and target, `$__rate_interval` in every rate(), a
unit and a description on every panel, a grid without overlaps. Standard library
only, so it runs anywhere the repository is checked out.

The SLO panels compute their windows from the raw metrics (not from the recording
rules), so that the dashboard works on any Prometheus that scrapes a gateway. They
mirror charts/llm-monitor/rules/availability-slo.yaml and latency-slo.yaml: same
SLIs, same burn-rate windows and factors. The objectives and the latency threshold
are dashboard variables whose defaults are the rule files' defaults.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DASHBOARDS_DIR = ROOT / "dashboards"

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
SCHEMA_VERSION = 39
TAG = "llm-monitor"
JOB = 'job="llm-gateway"'
# The requests the latency SLO covers (latency-slo.yaml): non-streamed completions that
# succeeded or failed. Streams run to their last byte by design (time to first token
# watches them); cancelled and rejected requests are timed by the client or the shedder.
LATENCY_SLI = ('stream="false"', 'outcome=~"success|error"')
# Boundaries of OPERATION_DURATION_BUCKETS (llm_gateway_request_duration_seconds) a
# latency threshold can sit on, as the Python client writes them in the `le` label:
# the values the chart's schema allows for prometheusRule.latencyThresholdSeconds.
LATENCY_THRESHOLDS = (
    "0.01", "0.02", "0.04", "0.08", "0.16", "0.32", "0.64", "1.28", "2.56", "5.12",
    "10.24", "20.48", "40.96", "81.92", "163.84",
)  # fmt: skip
LATENCY_THRESHOLD_DEFAULT = "10.24"
# Burn-rate factors of the alerts, drawn as threshold lines.
BURN_STEPS = (("green", None), ("yellow", 1), ("orange", 6), ("red", 14.4))
# The long windows of the alerts' window pairs (1h/5m, 6h/30m, 1d/2h, 3d/6h).
ALERT_WINDOWS = (
    ("1h", "1h (pages at 14.4x)"),
    ("6h", "6h (pages at 6x)"),
    ("1d", "1d (ticket at 3x)"),
    ("3d", "3d (ticket at 1x)"),
)


def selector(metric: str, *matchers: str) -> str:
    """`metric{job="llm-gateway", ...}`: every selector names the gateway's job."""
    return f"{metric}{{{', '.join((JOB, *matchers))}}}"


def rate(metric: str, *matchers: str) -> str:
    """`rate(metric{job="llm-gateway", ...}[$__rate_interval])`."""
    return f"rate({selector(metric, *matchers)}[$__rate_interval])"


def ratio_over(bad: str, total: str, window: str) -> str:
    """bad/total over `window`, summing per-$__rate_interval rates in a subquery.

    Grafana's rule is `$__rate_interval` inside every rate(); a fixed window
    therefore comes from a subquery of rates, which tiles the window.
    """
    step = "$__rate_interval"
    return f"sum_over_time(({bad})[{window}:{step}])\n/\nsum_over_time(({total})[{window}:{step}])"


# --- Matchers and SLIs, shared by the panels ------------------------------------------

HANDLER = 'handler=~"$handler"'
MODEL = 'model=~"$model"'
STATUS_5XX = 'status_code=~"5.."'
STATUS_429 = 'status_code="429"'
GENERATE = 'handler="/generate"'
RATE_LIMITED = 'reason="rate_limited"'
BELOW_THRESHOLD = 'le="$latency_threshold"'

ERRORS = f"(sum({rate('http_requests_total', STATUS_5XX)}) or vector(0))"
REQUESTS = f"sum({rate('http_requests_total')})"
TIMED = f"sum({rate('llm_gateway_request_duration_seconds_count', *LATENCY_SLI)})"
FAST = f"sum({rate('llm_gateway_request_duration_seconds_bucket', *LATENCY_SLI, BELOW_THRESHOLD)})"
SLOW = f"({TIMED}\n - {FAST})"
# Retries per request that tried a model, as LlmGatewayRetriesHigh computes it: every
# upstream call is a first attempt or a retry, so calls - retries counts the requests
# (original or handed over by a fallback) that tried the model.
RETRIES = f"sum by (model) ({rate('llm_gateway_upstream_retries_total', MODEL)})"
CALLS = f"sum by (model) ({rate('llm_gateway_upstream_request_duration_seconds_count', MODEL)})"
RETRIES_PER_REQUEST = f"{RETRIES}\n/\n({CALLS}\n - {RETRIES})"
# Share of requests shed, as LlmGatewayLoadShedding computes it: shed requests are
# counted in llm_gateway_requests_total with outcome="rejected".
SHED_RATIO = (
    f"(sum({rate('llm_gateway_shed_requests_total')}) or vector(0))\n"
    f"/\nsum({rate('llm_gateway_requests_total')})"
)


# --- Panel model ------------------------------------------------------------------------


@dataclass
class Target:
    expr: str
    legend: str = "__auto"
    instant: bool = False


@dataclass
class Panel:
    title: str
    description: str
    unit: str
    targets: list[Target]
    width: int
    height: int = 8
    kind: str = "timeseries"
    thresholds: tuple[tuple[str, float | None], ...] = (("green", None),)
    threshold_lines: bool = False
    decimals: int | None = None
    min: float | None = None
    max: float | None = None
    stack: bool = False
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Row:
    title: str
    panels: list[Panel]


def _target_json(target: Target, ref: str) -> dict[str, Any]:
    return {
        "datasource": DATASOURCE,
        "editorMode": "code",
        "expr": target.expr,
        "instant": target.instant,
        "legendFormat": target.legend,
        "range": not target.instant,
        "refId": ref,
    }


def _panel_json(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "unit": panel.unit,
        "thresholds": {
            "mode": "absolute",
            "steps": [{"color": c, "value": v} for c, v in panel.thresholds],
        },
    }
    for key in ("decimals", "min", "max"):
        if getattr(panel, key) is not None:
            defaults[key] = getattr(panel, key)
    if panel.kind == "timeseries":
        defaults["color"] = {"mode": "palette-classic"}
        defaults["custom"] = {
            "drawStyle": "line",
            "fillOpacity": 10,
            "lineWidth": 1,
            "showPoints": "never",
            "spanNulls": False,
            "stacking": {"group": "A", "mode": "normal" if panel.stack else "none"},
            "thresholdsStyle": {"mode": "line" if panel.threshold_lines else "off"},
        }
        options: dict[str, Any] = {
            "legend": {
                "calcs": [],
                "displayMode": "list",
                "placement": "bottom",
                "showLegend": True,
            },
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    else:
        defaults["color"] = {"mode": "thresholds"}
        options = {
            "colorMode": "value",
            "graphMode": "none",
            "justifyMode": "auto",
            "orientation": "auto",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "textMode": "auto",
        }
    options.update(panel.options)
    return {
        "datasource": DATASOURCE,
        "description": panel.description,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "gridPos": {"h": panel.height, "w": panel.width, "x": x, "y": y},
        "id": panel_id,
        "options": options,
        "targets": [_target_json(t, chr(ord("A") + i)) for i, t in enumerate(panel.targets)],
        "title": panel.title,
        "type": panel.kind,
    }


def _layout(rows: list[Row]) -> Iterator[dict[str, Any]]:
    """Rows of panels on Grafana's 24-column grid, left to right, wrapping."""
    panel_id, y = 1, 0
    for row in rows:
        yield {
            "collapsed": False,
            "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
            "id": panel_id,
            "panels": [],
            "title": row.title,
            "type": "row",
        }
        panel_id, y, x, line_height = panel_id + 1, y + 1, 0, 0
        for panel in row.panels:
            if x + panel.width > 24:
                x, y, line_height = 0, y + line_height, 0
            yield _panel_json(panel, panel_id, x, y)
            panel_id, x, line_height = panel_id + 1, x + panel.width, max(line_height, panel.height)
        y += line_height


def _query_variable(name: str, label: str, query: str, description: str) -> dict[str, Any]:
    return {
        "allValue": ".*",
        "current": {},
        "datasource": DATASOURCE,
        "definition": query,
        "description": description,
        "includeAll": True,
        "label": label,
        "multi": True,
        "name": name,
        "options": [],
        "query": {
            "qryType": 1,
            "query": query,
            "refId": "PrometheusVariableQueryEditor-VariableQuery",
        },
        "refresh": 2,
        "regex": "",
        "sort": 1,
        "type": "query",
    }


def _custom_variable(
    name: str, label: str, values: tuple[str, ...], default: str, description: str
) -> dict[str, Any]:
    return {
        "current": {"selected": True, "text": default, "value": default},
        "description": description,
        "hide": 0,
        "includeAll": False,
        "label": label,
        "multi": False,
        "name": name,
        "options": [{"selected": v == default, "text": v, "value": v} for v in values],
        "query": ",".join(values),
        "skipUrlSync": False,
        "type": "custom",
    }


def dashboard(uid: str, title: str, description: str, rows: list[Row]) -> dict[str, Any]:
    return {
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "description": description,
        "editable": True,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": None,
        "links": [],
        "panels": list(_layout(rows)),
        "refresh": "30s",
        "schemaVersion": SCHEMA_VERSION,
        "tags": [TAG, "llm-gateway"],
        "templating": {
            "list": [
                {
                    "current": {},
                    "description": 'The Prometheus that scrapes the gateway (job="llm-gateway").',
                    "hide": 0,
                    "includeAll": False,
                    "label": "Data source",
                    "multi": False,
                    "name": "datasource",
                    "options": [],
                    "query": "prometheus",
                    "refresh": 1,
                    "regex": "",
                    "type": "datasource",
                },
                _query_variable(
                    "model",
                    "Model",
                    'label_values(llm_gateway_requests_total{job="llm-gateway"}, model)',
                    "Upstream models the gateway has served; filters the LLM panels.",
                ),
                _query_variable(
                    "handler",
                    "Handler",
                    'label_values(http_requests_total{job="llm-gateway"}, handler)',
                    "Route templates (/generate, /v1/chat/completions, ...); "
                    "filters the HTTP panels.",
                ),
                _custom_variable(
                    "availability_objective",
                    "Availability SLO",
                    ("0.99", "0.995", "0.999"),
                    "0.995",
                    "Share of requests not answered with 5xx; keep equal to the chart's "
                    "prometheusRule.availabilityObjective.",
                ),
                _custom_variable(
                    "latency_objective",
                    "Latency SLO",
                    ("0.95", "0.99", "0.995", "0.999"),
                    "0.99",
                    "Share of non-streamed completions faster than the threshold; keep equal to "
                    "the chart's prometheusRule.latencyObjective.",
                ),
                _custom_variable(
                    "latency_threshold",
                    "Latency SLO threshold (s)",
                    LATENCY_THRESHOLDS,
                    LATENCY_THRESHOLD_DEFAULT,
                    "A bucket boundary of llm_gateway_request_duration_seconds; keep equal to the "
                    "chart's prometheusRule.latencyThresholdSeconds.",
                ),
            ]
        },
        "time": {"from": "now-1h", "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "title": title,
        "uid": uid,
        "version": 1,
        "weekStart": "",
    }


# --- The overview dashboard ---------------------------------------------------------------


def quantiles(metric: str, matcher: str, by: str = "") -> list[Target]:
    group = f"le, {by}" if by else "le"
    suffix = f" {{{{{by}}}}}" if by else ""
    return [
        Target(
            f"histogram_quantile({q}, sum by ({group}) ({rate(metric, matcher)}))",
            f"p{round(q * 100)}{suffix}",
        )
        for q in (0.5, 0.95, 0.99)
    ]


def burn_rate_stat(sli: str, bad: str, total: str, objective: str) -> Panel:
    return Panel(
        f"{sli} burn rate by alert window",
        f"How fast the {sli.lower()} error budget burns over the long window of each alert "
        "window pair: 1 spends exactly the 30-day budget in 30 days. The alert also needs the "
        "short window (5m, 30m, 2h, 6h) above the same factor, and its `for:` duration.",
        "suffix:×",
        [
            Target(f"{ratio_over(bad, total, window)}\n/ (1 - ${objective})", legend, instant=True)
            for window, legend in ALERT_WINDOWS
        ],
        width=6,
        kind="stat",
        thresholds=BURN_STEPS,
        decimals=1,
        options={"textMode": "value_and_name", "orientation": "horizontal"},
    )


OVERVIEW = [
    Row(
        "Overview",
        [
            Panel(
                "Gateway targets up",
                'Gateway targets Prometheus scraped successfully (up{job="llm-gateway"}). 0 means '
                "the gateway or its scrape is down: LlmGatewayTargetDown.",
                "short",
                [Target('sum(up{job="llm-gateway"})', "targets up")],
                width=4,
                kind="stat",
                thresholds=(("red", None), ("green", 1)),
            ),
            Panel(
                "Requests/s",
                "HTTP requests per second to the selected handlers, all status codes.",
                "reqps",
                [Target(f"sum({rate('http_requests_total', HANDLER)})", "requests/s")],
                width=4,
                kind="stat",
            ),
            Panel(
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
                kind="stat",
                thresholds=(("green", None), ("orange", 0.005), ("red", 0.05)),
            ),
            Panel(
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
                kind="stat",
                thresholds=(("green", None), ("orange", 5), ("red", 20)),
            ),
            Panel(
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
                kind="stat",
            ),
            Panel(
                "Upstream requests in flight",
                "Requests waiting on or streaming from the upstream right now, selected models.",
                "short",
                [
                    Target(
                        f"sum({selector('llm_gateway_upstream_requests_in_flight', MODEL)})",
                        "in flight",
                    )
                ],
                width=4,
                kind="stat",
            ),
        ],
    ),
    Row(
        "Traffic",
        [
            Panel(
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
            Panel(
                "All requests (http_requests_total)",
                "The documented query http_requests_total, as a rate: every request the gateway "
                "served, all handlers and status codes.",
                "reqps",
                [Target(f"sum({rate('http_requests_total')})", "all requests")],
                width=6,
            ),
            Panel(
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
            Panel(
                "LLM requests/s by model, endpoint and outcome",
                "Requests the gateway core handled, by model, endpoint, streaming mode and outcome "
                "(success, error, cancelled by the client, or rejected by the gateway itself: "
                "shed with 503 or over a key's rate limit with 429).",
                "reqps",
                [
                    Target(
                        "sum by (model, endpoint, stream, outcome) "
                        f"({rate('llm_gateway_requests_total', MODEL)})",
                        "{{model}} {{endpoint}} stream={{stream}} {{outcome}}",
                    )
                ],
                width=16,
            ),
            Panel(
                "Gateway instances by version",
                "Gateway processes reporting llm_gateway_build_info, by version, default model and "
                "kind of upstream (simulator, endpoint or providers).",
                "short",
                [
                    Target(
                        "count by (version, default_model, upstream_kind) "
                        '(llm_gateway_build_info{job="llm-gateway"})',
                        "{{version}} {{default_model}} {{upstream_kind}}",
                    )
                ],
                width=8,
                kind="stat",
                options={"textMode": "value_and_name"},
            ),
        ],
    ),
    Row(
        "Errors",
        [
            Panel(
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
                min=0,
            ),
            Panel(
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
            Panel(
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
    ),
    Row(
        "Latency",
        [
            Panel(
                "Request duration (HTTP)",
                "p50, p95 and p99 of HTTP request duration for the selected handlers, streams "
                "measured to their last byte.",
                "s",
                quantiles("http_request_duration_seconds_bucket", HANDLER),
                width=8,
            ),
            Panel(
                "Request duration p95 by model and endpoint (gateway core)",
                "95th percentile of the time the gateway core spent on a request, until the last "
                "byte of the response, by model, endpoint and streaming mode.",
                "s",
                [
                    Target(
                        "histogram_quantile(0.95, sum by (le, model, endpoint, stream) "
                        f"({rate('llm_gateway_request_duration_seconds_bucket', MODEL)}))",
                        "{{model}} {{endpoint}} stream={{stream}}",
                    )
                ],
                width=8,
            ),
            Panel(
                "Upstream call duration",
                "p50, p95 and p99 of the time spent in calls to the upstream model server, from "
                "sending the request to its last byte, selected models.",
                "s",
                quantiles("llm_gateway_upstream_request_duration_seconds_bucket", MODEL),
                width=8,
            ),
            Panel(
                "Time to first token",
                "p50, p95 and p99 time from receiving a streamed request to relaying its first "
                "token, selected models. LlmGatewayTimeToFirstTokenHigh fires when p95 stays above "
                "the 2.5 s line.",
                "s",
                quantiles("llm_gateway_time_to_first_token_seconds_bucket", MODEL),
                width=12,
                thresholds=(("green", None), ("red", 2.5)),
                threshold_lines=True,
            ),
            Panel(
                "Time per output token",
                "p50, p95 and p99 of the mean time between generated tokens of a streamed response "
                "after the first, selected models.",
                "s",
                quantiles("llm_gateway_time_per_output_token_seconds_bucket", MODEL),
                width=12,
            ),
        ],
    ),
    Row(
        "Tokens",
        [
            Panel(
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
            Panel(
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
    ),
    Row(
        "Saturation",
        [
            Panel(
                "HTTP requests in progress",
                "Requests the gateway is handling right now, by handler.",
                "short",
                [
                    Target(
                        f"sum by (handler) ({selector('http_requests_in_progress', HANDLER)})",
                        "{{handler}}",
                    )
                ],
                width=6,
            ),
            Panel(
                "Upstream requests in flight",
                "Requests waiting on or streaming from the upstream right now, by model.",
                "short",
                [
                    Target(
                        "sum by (model) "
                        f"({selector('llm_gateway_upstream_requests_in_flight', MODEL)})",
                        "{{model}}",
                    )
                ],
                width=6,
            ),
            Panel(
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
            Panel(
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
    ),
    Row(
        "Resilience",
        [
            Panel(
                "Upstream retries/s by reason",
                "Upstream attempts made again after a retryable failure, per second, by the reason "
                "the previous attempt failed (rate_limited, timeout, server_error, connection) and "
                "model. Retries hide upstream trouble from clients, at the cost of latency and "
                "upstream capacity.",
                "reqps",
                [
                    Target(
                        "sum by (reason, model) "
                        f"({rate('llm_gateway_upstream_retries_total', MODEL)})",
                        "{{reason}} {{model}}",
                    )
                ],
                width=8,
            ),
            Panel(
                "Retries per request by model",
                "Retries per request that tried the model: upstream retries divided by the calls "
                "that were first attempts. LlmGatewayRetriesHigh fires when it stays above the "
                "0.1 line for 15 minutes: an early sign of upstream trouble, before errors reach "
                "clients.",
                "short",
                [Target(RETRIES_PER_REQUEST, "{{model}}")],
                width=8,
                thresholds=(("green", None), ("orange", 0.1)),
                threshold_lines=True,
                min=0,
            ),
            Panel(
                "Fallbacks/s by model",
                "Requests handed to a fallback model per second (LLM_GATEWAY_FALLBACK_MODELS) "
                "after the requested one kept failing with a retryable error, by the fallback "
                "model tried.",
                "reqps",
                [
                    Target(
                        f"sum by (model) ({rate('llm_gateway_fallbacks_total', MODEL)})",
                        "to {{model}}",
                    )
                ],
                width=8,
            ),
            Panel(
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
            Panel(
                "Share of requests shed",
                "Shed requests (503) as a share of the requests the gateway core handled. "
                "LlmGatewayLoadShedding fires when it stays above the 2 % line for 10 minutes: "
                "the gateway is at capacity.",
                "percentunit",
                [Target(SHED_RATIO, "shed")],
                width=6,
                thresholds=(("green", None), ("orange", 0.02)),
                threshold_lines=True,
                min=0,
            ),
            Panel(
                "Queued requests",
                "Requests waiting for an upstream slot right now, summed over gateway processes "
                "(each holds LLM_GATEWAY_MAX_CONCURRENCY slots and a queue of "
                "LLM_GATEWAY_MAX_QUEUE).",
                "short",
                [Target(f"sum({selector('llm_gateway_queued_requests')})", "queued")],
                width=6,
                min=0,
            ),
            Panel(
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
            Panel(
                "Rate-limited requests/s by client and limit",
                "Requests refused with 429 and Retry-After because an API key spent its budget, "
                "by key alias (client) and budget (requests or tokens per minute). One client "
                "here is a client problem; all of them, a budget set too low.",
                "reqps",
                [
                    Target(
                        "sum by (client, limit) "
                        f"({rate('llm_gateway_rate_limited_requests_total')})",
                        "{{client}} {{limit}}",
                    )
                ],
                width=12,
            ),
            Panel(
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
    ),
    Row(
        "SLOs",
        [
            Panel(
                "Availability over the time range",
                "Share of all requests not answered with 5xx over the dashboard's time range, "
                "against the $availability_objective objective (LlmGatewayErrorBudgetBurn).",
                "percentunit",
                [
                    Target(
                        f"1 - (\n{ratio_over(ERRORS, REQUESTS, '$__range')}\n)",
                        "availability",
                        instant=True,
                    )
                ],
                width=6,
                kind="stat",
                decimals=3,
                thresholds=(("red", None), ("orange", 0.99), ("green", 0.995)),
            ),
            burn_rate_stat("Availability", ERRORS, REQUESTS, "availability_objective"),
            Panel(
                "Availability error budget burn rate",
                "5xx ratio of all requests divided by the error budget (1 - objective): 1 spends "
                "the 30-day budget in exactly 30 days. Lines at 14.4 and 6 (page) and 1 (ticket) "
                "are the factors of LlmGatewayErrorBudgetBurn, which also needs them sustained "
                "over its windows.",
                "suffix:×",
                [Target(f"{ERRORS}\n/\n{REQUESTS}\n/ (1 - $availability_objective)", "burn rate")],
                width=12,
                thresholds=BURN_STEPS,
                threshold_lines=True,
                min=0,
            ),
            Panel(
                "Fast non-streamed completions over the time range",
                "Share of non-streamed /generate and /v1/chat/completions requests (success or "
                "error) faster than $latency_threshold s over the dashboard's time range, against "
                "the $latency_objective objective (LlmGatewayLatencyBudgetBurn). Streams are "
                "left out: see Time to first token.",
                "percentunit",
                [
                    Target(
                        f"1 - (\n{ratio_over(SLOW, TIMED, '$__range')}\n)",
                        "fast completions",
                        instant=True,
                    )
                ],
                width=6,
                kind="stat",
                decimals=3,
                thresholds=(("red", None), ("orange", 0.95), ("green", 0.99)),
            ),
            burn_rate_stat("Latency", SLOW, TIMED, "latency_objective"),
            Panel(
                "Latency error budget burn rate",
                "Share of non-streamed completions slower than $latency_threshold s divided by "
                "the latency error budget (1 - objective). Lines at 14.4 and 6 (page) and 1 "
                "(ticket) are the factors of LlmGatewayLatencyBudgetBurn.",
                "suffix:×",
                [Target(f"{SLOW}\n/\n{TIMED}\n/ (1 - $latency_objective)", "burn rate")],
                width=12,
                thresholds=BURN_STEPS,
                threshold_lines=True,
                min=0,
            ),
        ],
    ),
]

DASHBOARDS = {
    "llm-gateway-overview.json": dashboard(
        uid="llm-gateway-overview",
        title="LLM Gateway / Overview",
        description="Traffic, errors, latency, tokens, saturation, resilience and SLOs of the "
        'LLM gateway (job="llm-gateway"). Alerts: charts/llm-monitor/rules; runbooks: '
        "docs/runbooks.md.",
        rows=OVERVIEW,
    ),
}


def render(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when a committed file is stale")
    args = parser.parse_args(argv)
    stale = []
    for name, data in DASHBOARDS.items():
        path = DASHBOARDS_DIR / name
        text = render(data)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            DASHBOARDS_DIR.mkdir(exist_ok=True)
            path.write_text(text)
    if stale:
        print(  # noqa: T201
            f"stale: {', '.join(stale)}; run `python scripts/generate_dashboards.py`",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
