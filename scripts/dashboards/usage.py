"""LLM gateway — usage by client: requests, tokens, estimated cost, 429s and errors.

The client is the API key alias (`anonymous` while API keys are off); the cost is the
gateway's estimate from LLM_GATEWAY_PRICES. Totals and top-N tables cover the
dashboard's time range (increase over $__range); time series show rates.
"""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import stat, table
from scripts.dashboards import variables
from scripts.dashboards.board import Row, dashboard
from scripts.dashboards.panels import Target, stat_panel, table_panel, timeseries_panel
from scripts.dashboards.selectors import MODEL, rate, sel

CLIENT = 'client=~"$client"'
ERROR = 'outcome="error"'
REQUESTS = "llm_gateway_client_requests_total"
TOKENS = "llm_gateway_client_tokens_total"
COST = "llm_gateway_cost_usd_total"
RATE_LIMITED = "llm_gateway_rate_limited_requests_total"


def over_range(metric: str, *matchers: str) -> str:
    """`increase(metric{...}[$__range])`: the total over the dashboard's time range."""
    return f"increase({sel(metric, *matchers)}[$__range])"


def _total(title: str, description: str, unit: str, expr: str) -> stat.Panel:
    return stat_panel(title, description, unit, [Target(expr, title, instant=True)], width=5)


def _top(title: str, description: str, metric: str, by: str, header: str, unit: str) -> table.Panel:
    expr = f"topk(10, sum by ({by}) ({over_range(metric, CLIENT, MODEL)}))"
    return table_panel(
        title, description, [(Target(expr, instant=True), header, unit)], width=8, height=10
    )


TOTALS = Row(
    "Totals over the time range",
    [
        _total(
            "Requests",
            "Requests of the selected clients to the selected models over the time range.",
            "short",
            f"sum({over_range(REQUESTS, CLIENT, MODEL)})",
        ),
        _total(
            "Tokens",
            "Prompt plus completion tokens of successful requests, as the upstream reported "
            "them, over the time range.",
            "short",
            f"sum({over_range(TOKENS, CLIENT, MODEL)})",
        ),
        _total(
            "Estimated cost",
            "Tokens at LLM_GATEWAY_PRICES over the time range, in USD: an estimate, not the "
            "upstream's bill. Empty when no price is configured.",
            "currencyUSD",
            f"sum({over_range(COST, CLIENT, MODEL)})",
        ),
        _total(
            "429s (rate limited)",
            "Requests the gateway refused with 429 because a client spent its per-key budget "
            "(requests or tokens per minute), over the time range.",
            "short",
            f"sum({over_range(RATE_LIMITED, CLIENT)})",
        ),
        stat_panel(
            "Errors",
            "Requests of the selected clients that ended in an error (upstream failure or "
            "timeout) over the time range.",
            "short",
            [Target(f"sum({over_range(REQUESTS, CLIENT, MODEL, ERROR)})", "errors", instant=True)],
            width=4,
        ),
    ],
)

BY_CLIENT = Row(
    "By client",
    [
        timeseries_panel(
            "Requests/s by client and outcome",
            "Requests per second by client and outcome (success, error, cancelled, rejected: "
            "shed or over a key's budget).",
            "reqps",
            [
                Target(
                    f"sum by (client, outcome) ({rate(REQUESTS, CLIENT, MODEL)})",
                    "{{client}} {{outcome}}",
                )
            ],
            width=12,
        ),
        timeseries_panel(
            "Tokens/s by client and type",
            "Prompt and completion tokens per second of successful requests, by client.",
            "short",
            [
                Target(
                    f"sum by (client, type) ({rate(TOKENS, CLIENT, MODEL)})", "{{client}} {{type}}"
                )
            ],
            width=12,
        ),
        timeseries_panel(
            "Estimated cost by client and model (USD/h)",
            "The rate of estimated cost, in USD per hour, by client and model.",
            "currencyUSD",
            [
                Target(
                    f"sum by (client, model) ({rate(COST, CLIENT, MODEL)}) * 3600",
                    "{{client}} {{model}}",
                )
            ],
            width=8,
        ),
        timeseries_panel(
            "429s/s by client and limit",
            "Requests refused with 429 per second, by client and the budget it spent. One "
            "client here is a client problem; all of them, a budget set too low.",
            "reqps",
            [
                Target(
                    f"sum by (client, limit) ({rate(RATE_LIMITED, CLIENT)})", "{{client}} {{limit}}"
                )
            ],
            width=8,
        ),
        timeseries_panel(
            "Errors/s by client and model",
            "Requests that ended in an error per second, by client and the model that failed.",
            "reqps",
            [
                Target(
                    f"sum by (client, model) ({rate(REQUESTS, CLIENT, MODEL, ERROR)})",
                    "{{client}} {{model}}",
                )
            ],
            width=8,
        ),
    ],
)

TOP = Row(
    "Top clients over the time range",
    [
        _top(
            "Top clients by estimated cost",
            "The ten clients whose requests cost most over the time range (USD, estimated).",
            COST,
            "client",
            "Estimated cost",
            "currencyUSD",
        ),
        _top(
            "Top clients by tokens",
            "The ten clients that used most tokens (prompt plus completion) over the time range.",
            TOKENS,
            "client",
            "Tokens",
            "short",
        ),
        _top(
            "Top clients and models by requests",
            "The ten client and model pairs with most requests over the time range.",
            REQUESTS,
            "client, model",
            "Requests",
            "short",
        ),
    ],
)


def build() -> dict[str, Any]:
    return dashboard(
        uid="llm-gateway-usage",
        title="LLM gateway — usage by client",
        description="Requests, tokens, estimated cost, 429s and errors per client (API key "
        "alias) and model, with top-N tables over the selected time range.",
        rows=[TOTALS, BY_CLIENT, TOP],
        variables=[
            variables.datasource(),
            *variables.scope(),
            variables.label("client", REQUESTS, "API key aliases (anonymous: keys off)."),
            variables.label("model", REQUESTS, "Models that answered the clients' requests."),
        ],
    )
