"""Usage by client (API key alias): requests, tokens and their estimated cost."""

from __future__ import annotations

from prometheus_client import Counter

from llm_gateway.metrics.spec import MetricSpec

CLIENT_METRICS: dict[str, MetricSpec] = {
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
}
