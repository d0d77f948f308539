"""Every metric the dashboards and rules query is one the gateway declares.

Declared means: a sample name of the LLM metrics in llm_gateway.metrics.recorder.Recorder
(instantiated on a fresh registry), one of starlette-exporter's HTTP metrics as
configured by the gateway, Prometheus' own `up`, or, for rules only, a recording
rule's name. Dashboards must not depend on recording rules: they are imported
into Grafanas whose Prometheus may not load this chart's rules.

How the selectors are scoped (job, instance and namespace variables on the
dashboards, the configured selector in the rules) is tested in
test_dashboard_lint.py and tests/rules.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from llm_gateway.core.types import Outcome
from llm_gateway.metrics.recorder import Recorder
from tests.dashboards import grafana, promql

RULE_FILES = sorted((grafana.ROOT / "rules").glob("*.yaml"))
HTTP_METRICS = {
    "http_requests_total",
    "http_request_duration_seconds_bucket",
    "http_request_duration_seconds_count",
    "http_request_duration_seconds_sum",
    "http_requests_in_progress",
    "http_request_body_bytes_total",
    "http_response_body_bytes_total",
}
PROMETHEUS_METRICS = {"up"}
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gauge": ("",),
    "info": ("_info",),
}


def llm_sample_names() -> set[str]:
    registry = CollectorRegistry()
    Recorder(registry)
    return {
        family.name + suffix for family in registry.collect() for suffix in SUFFIXES[family.type]
    }


def _rules() -> list[dict[str, Any]]:
    return [
        rule
        for path in RULE_FILES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]


def _dashboard_exprs() -> list[tuple[str, str]]:
    return [
        (f"{p.name}: {panel['title']} {target['refId']}", grafana.lint_form(target["expr"], board))
        for p in grafana.DASHBOARD_FILES
        for board in [grafana.load(p)]
        for panel, target in grafana.targets(board)
    ]


def _rule_exprs() -> list[tuple[str, str]]:
    return [(rule.get("alert") or rule["record"], rule["expr"]) for rule in _rules()]


DECLARED = llm_sample_names() | HTTP_METRICS | PROMETHEUS_METRICS
RECORDED = {rule["record"] for rule in _rules() if "record" in rule}


def test_the_llm_metric_contract_is_read_from_the_code() -> None:
    names = llm_sample_names()
    assert "llm_gateway_prompt_tokens_total" in names
    assert "llm_gateway_request_duration_seconds_bucket" in names
    assert "llm_gateway_upstream_requests_in_flight" in names


@pytest.mark.parametrize("where,expr", _dashboard_exprs())
def test_dashboard_queries_only_declared_metrics(where: str, expr: str) -> None:
    assert promql.metric_names(expr) <= DECLARED, promql.metric_names(expr) - DECLARED


@pytest.mark.parametrize("where,expr", _rule_exprs())
def test_rule_queries_only_declared_metrics(where: str, expr: str) -> None:
    known = DECLARED | RECORDED
    assert promql.metric_names(expr) <= known, promql.metric_names(expr) - known


# The families issue 5 asks the overview dashboard to show. Metrics added later are
# not forced onto it by this list; the declared-names tests above still hold them.
OVERVIEW_FAMILIES = {
    "http_requests",
    "http_request_duration_seconds",
    "http_requests_in_progress",
    "http_request_body_bytes",
    "http_response_body_bytes",
    "llm_gateway_requests",
    "llm_gateway_request_duration_seconds",
    "llm_gateway_upstream_request_duration_seconds",
    "llm_gateway_prompt_tokens",
    "llm_gateway_completion_tokens",
    "llm_gateway_tokens_per_request",
    "llm_gateway_time_to_first_token_seconds",
    "llm_gateway_time_per_output_token_seconds",
    "llm_gateway_upstream_errors",
    "llm_gateway_upstream_requests_in_flight",
    "llm_gateway_build_info",
}
# The resilience metrics (retries, fallbacks, load shedding, per-key limits, API keys),
# each shown on the overview's Resilience row.
RESILIENCE_FAMILIES = {
    "llm_gateway_upstream_retries",
    "llm_gateway_fallbacks",
    "llm_gateway_queue_wait_seconds",
    "llm_gateway_queued_requests",
    "llm_gateway_shed_requests",
    "llm_gateway_rate_limited_requests",
    "llm_gateway_auth_failures",
}


@pytest.mark.parametrize(
    "families", [OVERVIEW_FAMILIES, RESILIENCE_FAMILIES], ids=["issue", "resilience"]
)
def test_the_overview_dashboard_shows_every_metric_family_named(families: set[str]) -> None:
    registry = CollectorRegistry()
    Recorder(registry)
    declared = {family.name for family in registry.collect()}
    assert {f for f in families if f.startswith("llm_gateway_")} <= declared
    overview = grafana.load(grafana.DASHBOARDS_DIR / "llm-gateway-overview.json")
    used = set().union(
        *(
            promql.metric_names(grafana.lint_form(t["expr"], overview))
            for _, t in grafana.targets(overview)
        )
    )
    suffixes = ("", "_total", "_bucket", "_count", "_sum")
    missing = {f for f in families if not any(f + suffix in used for suffix in suffixes)}
    assert not missing, f"metric families without a panel: {sorted(missing)}"


def test_every_value_of_the_outcome_label_is_named_on_the_outcome_panel() -> None:
    overview = grafana.load(grafana.DASHBOARDS_DIR / "llm-gateway-overview.json")
    title = "LLM requests/s by model, API and outcome"
    [panel] = [p for p in grafana.panels(overview) if p["title"] == title]
    for outcome in Outcome:
        assert outcome.value in panel["description"], outcome
