"""The chart's own scrape: a real Prometheus scrapes a real gateway with the job the
Prometheus Operator makes of the chart's rendered ServiceMonitor.

That job sets the target labels `namespace`, `service`, `pod`, `container`, `job` and
`endpoint` (the port's name, `http`) with `honor_labels: false`, so a gateway label of
one of those names would arrive renamed `exported_<name>`, and a query grouping by it
would group by the target's label instead: the door and the upstream base URL were both
`endpoint` once, and every dashboard and rule grouping by them grouped by `http`.

The chart is rendered with helm (a job label that is not the default, a 1 s interval);
its ServiceMonitor becomes the scrape job (tests/operator_scrape.py), its PrometheusRule
the rule file, with `for:` cut to 0s so alerts fire at once. The gateway's upstream pool
is the simulator and an address nothing listens on, ejected at its first failure: the
upstream of the `LLM_GATEWAY_*` shorthand, named `default` in the pool's `upstream` label.
Traffic goes through every door, twice (a counter is born at its first increment). Then,
through Prometheus' HTTP API: no series carries an `exported_*` label; `sum by (api)`
gives the doors and `sum by (upstream, upstream_url)` the upstream's name and the
configured URLs; every dashboard query and every rule of the chart executes, and each
label it groups by holds values the gateway exposes for that label (never the port's
name); the upstream-down alert names the dead endpoint's URL and its upstream. The seed
write-up's queries work as written.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from llm_gateway.core.types import Endpoint
from llm_gateway.ports import free_port
from tests.chart.conftest import NAMESPACE, Rendered, chart_copy
from tests.dashboards import grafana
from tests.helpers import EMBEDDING_MODEL, MODEL, Gateway, start_gateway
from tests.operator_scrape import discovered, scrape_job
from tests.prometheus import Prometheus, eventually, run_prometheus, wait_until_scraped, without_for

JOB = "ai-gateway-prod"
# The upstream of the LLM_GATEWAY_* shorthand, as the pool metrics' `upstream` label names it.
UPSTREAM = "default"
CHAT = {"model": MODEL, "max_tokens": 4, "messages": [{"role": "user", "content": "Hello"}]}
# A request through each door, streamed and not where the door streams.
REQUESTS: list[tuple[Endpoint, str, dict[str, Any]]] = [
    (Endpoint.GENERATE, "/generate", {"prompt": "Hello", "max_new_tokens": 4}),
    (Endpoint.GENERATE, "/generate", {"prompt": "Hello", "max_new_tokens": 4, "stream": True}),
    (Endpoint.CHAT_COMPLETIONS, "/v1/chat/completions", {**CHAT, "stream": False}),
    (Endpoint.CHAT_COMPLETIONS, "/v1/chat/completions", {**CHAT, "stream": True}),
    (Endpoint.COMPLETIONS, "/v1/completions", {"model": MODEL, "prompt": "Hello", "max_tokens": 4}),
    (Endpoint.EMBEDDINGS, "/v1/embeddings", {"model": EMBEDDING_MODEL, "input": "Hello"}),
]
DOORS = {door.value for door, _, _ in REQUESTS}
GROUPING = re.compile(r"\bby\s*\(([^)]*)\)")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    chart = chart_copy(tmp_path_factory.mktemp("repo"))
    sets = (
        f"serviceMonitor.jobLabel={JOB}",
        "serviceMonitor.interval=1s",
        "serviceMonitor.scrapeTimeout=1s",
    )
    return chart.render((), sets)


@pytest.fixture(scope="module")
def dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture(scope="module")
def pooled(simulator_url: str, dead_url: str) -> Iterator[Gateway]:
    yield from start_gateway(
        f"{simulator_url},{dead_url}",
        retry_attempts=2,
        # Ejected at its first failed request (one of the first two: an untried address
        # wins the pick), and kept out: no health checks, no probe within a minute.
        upstream_eject_failures=1,
        upstream_eject_seconds=60.0,
        upstream_health_interval_seconds=0,
    )


def _monitored(rendered: Rendered) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The ServiceMonitor, the Service it selects and the Deployment behind that Service."""
    monitor = rendered.one("ServiceMonitor")
    selector = monitor["spec"]["selector"]["matchLabels"].items()
    [service] = [s for s in rendered.kind("Service") if selector <= s["metadata"]["labels"].items()]
    [deployment] = [
        d
        for d in rendered.kind("Deployment")
        if service["spec"]["selector"].items()
        <= d["spec"]["template"]["metadata"]["labels"].items()
    ]
    return monitor, service, deployment


def _operator_job(rendered: Rendered, address: str) -> dict[str, Any]:
    """The scrape job of the ServiceMonitor's endpoint, the gateway's pod its one target."""
    monitor, service, deployment = _monitored(rendered)
    [endpoint] = monitor["spec"]["endpoints"]
    return scrape_job(monitor, 0, [(address, discovered(service, deployment, endpoint["port"]))])


def _chart_rules(rendered: Rendered) -> dict[str, str]:
    groups = rendered.one("PrometheusRule")["spec"]["groups"]
    return {"chart.yaml": without_for(yaml.safe_dump({"groups": groups}), "0s")}


@pytest.fixture(scope="module")
def prometheus(
    rendered: Rendered, pooled: Gateway, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prometheus]:
    address = pooled.url.removeprefix("http://")
    jobs = [_operator_job(rendered, address)]
    workdir = tmp_path_factory.mktemp("prometheus")
    with run_prometheus(workdir, address, jobs, _chart_rules(rendered)) as server:
        yield server


def _total(gateway: Gateway, name: str) -> float:
    """A metric's samples summed over every label: the same whatever its labels are named."""
    return sum(s.value for f in gateway.registry.collect() for s in f.samples if s.name == name)


@pytest.fixture(scope="module")
def traffic(pooled: Gateway, prometheus: Prometheus) -> None:
    eventually(lambda: prometheus.query(f'up{{job="{JOB}"}} == 1'), "the first scrape")
    with httpx.Client(base_url=pooled.url, timeout=10) as client:
        for _ in range(2):
            for _, path, body in REQUESTS:
                response = client.post(path, json=body)
                assert response.status_code == 200, (path, response.text)
            wait_until_scraped(prometheus, pooled.url, JOB)
    assert _total(pooled, "llm_gateway_upstream_endpoint_ejected_addresses") == 1


@pytest.fixture(scope="module")
def exposed(pooled: Gateway, traffic: None) -> dict[str, set[str]]:
    """Every label the gateway exposes, with the values it takes (histograms' `le` aside)."""
    text = httpx.get(f"{pooled.url}/metrics", timeout=5).text
    values: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            for label, value in sample.labels.items():
                values.setdefault(label, set()).add(value)
    values.pop("le", None)
    return values


def _misgrouped(expr: str, result: list[dict[str, Any]], exposed: dict[str, set[str]]) -> list[str]:
    """Each series of ``result`` whose value for a label ``expr`` groups by is not one the
    gateway exposes for that label (`endpoint="http"` for `by (endpoint)`, say). A label
    Prometheus does not show is empty, as the gateway's empty `status_code` is."""
    grouped = {label.strip() for match in GROUPING.findall(expr) for label in match.split(",")}
    return [
        f"{label}={series['metric'].get(label, '')!r}"
        for series in result
        for label in sorted(grouped & exposed.keys())
        if series["metric"].get(label, "") not in exposed[label]
    ]


def test_the_target_carries_the_labels_the_operator_sets(
    prometheus: Prometheus, rendered: Rendered, traffic: None
) -> None:
    [up] = prometheus.query(f'up{{job="{JOB}"}}')
    _, service_object, deployment = _monitored(rendered)
    service = service_object["metadata"]["name"]
    assert up["value"][1] == "1"
    assert up["metric"] == {
        "__name__": "up",
        "job": JOB,
        "instance": prometheus.gateway_target,
        "namespace": NAMESPACE,
        "service": service,
        "pod": up["metric"]["pod"],
        "container": "gateway",
        "endpoint": "http",
    }
    assert up["metric"]["pod"].startswith(deployment["metadata"]["name"])


def test_no_gateway_series_carries_an_exported_label(prometheus: Prometheus, traffic: None) -> None:
    scraped = f'{{job="{JOB}", instance="{prometheus.gateway_target}", __name__!~"ALERTS.*"}}'
    series = prometheus.api("series", **{"match[]": scraped})
    names = {s["__name__"] for s in series}
    assert {"llm_gateway_requests_total", "llm_gateway_upstream_endpoint_requests_total"} <= names
    exported = {label for s in series for label in s if label.startswith("exported_")}
    assert not exported, exported
    assert {s["endpoint"] for s in series} == {"http"}  # the port's name, and only that


def test_requests_group_by_the_door_they_came_in_by(prometheus: Prometheus, traffic: None) -> None:
    result = prometheus.query(f'sum by (api) (llm_gateway_requests_total{{job="{JOB}"}})')
    assert {series["metric"].get("api") for series in result} == DOORS
    result = prometheus.query(f'sum by (api) (llm_gateway_overhead_seconds_count{{job="{JOB}"}})')
    assert {series["metric"].get("api") for series in result} <= DOORS


def test_upstream_series_group_by_the_upstream_and_its_configured_base_urls(
    prometheus: Prometheus, simulator_url: str, dead_url: str, traffic: None
) -> None:
    result = prometheus.query(
        "sum by (upstream, upstream_url, outcome) "
        f'(llm_gateway_upstream_endpoint_requests_total{{job="{JOB}"}})'
    )
    outcomes = {
        (s["metric"].get("upstream"), s["metric"].get("upstream_url"), s["metric"].get("outcome"))
        for s in result
    }
    assert outcomes == {
        (UPSTREAM, simulator_url, "success"),
        (UPSTREAM, dead_url, "connection"),
    }


def _dashboard_targets() -> list[Any]:
    return [
        pytest.param(board, target, id=f"{path.stem}: {panel['title']} {target['refId']}")
        for path in grafana.DASHBOARD_FILES
        for board in [grafana.load(path)]
        for panel, target in grafana.targets(board)
    ]


@pytest.mark.parametrize("board,target", _dashboard_targets())
def test_dashboard_query_groups_by_what_the_gateway_exposes(
    prometheus: Prometheus, exposed: dict[str, set[str]], board: Any, target: Any
) -> None:
    chosen = {"job": JOB, "namespace": NAMESPACE, "instance": prometheus.gateway_target}
    expr = grafana.substitute(target["expr"], board, rate_interval="1m", overrides=chosen)
    result = prometheus.api("query", query=expr, time=time.time())["result"]
    assert not _misgrouped(expr, result, exposed), expr


def test_the_pool_panels_show_each_endpoint_by_its_upstream_and_url(
    prometheus: Prometheus, exposed: dict[str, set[str]], simulator_url: str, dead_url: str
) -> None:
    board = grafana.load(grafana.DASHBOARDS_DIR / "llm-gateway-overview.json")
    chosen = {"job": JOB, "namespace": NAMESPACE, "instance": prometheus.gateway_target}
    pool = {(UPSTREAM, simulator_url), (UPSTREAM, dead_url)}
    for title, upstream, expected in (
        ("Upstream requests in flight by upstream URL", UPSTREAM, pool),
        ("Upstream requests in flight by upstream URL", "vllm", set()),
        ("LLM requests/s by model, API and outcome", UPSTREAM, DOORS),
    ):
        [panel] = [p for p in grafana.panels(board) if p["title"] == title]
        [target] = panel["targets"]
        overrides = {**chosen, "upstream": upstream}
        expr = grafana.substitute(target["expr"], board, rate_interval="1m", overrides=overrides)
        result = prometheus.query(expr)
        if "upstream_url" in expr:
            shown = {(s["metric"]["upstream"], s["metric"]["upstream_url"]) for s in result}
        else:
            shown = {series["metric"]["api"] for series in result}
        assert shown == expected, (title, upstream)


def _chart_rule_list(rendered: Rendered) -> list[dict[str, Any]]:
    return [r for g in rendered.one("PrometheusRule")["spec"]["groups"] for r in g["rules"]]


def test_every_chart_rule_evaluates_healthy_and_groups_by_what_the_gateway_exposes(
    prometheus: Prometheus, rendered: Rendered, exposed: dict[str, set[str]]
) -> None:
    def all_healthy() -> list[dict[str, Any]] | None:
        rules = [r for g in prometheus.api("rules")["groups"] for r in g["rules"]]
        # An unevaluated rule's lastEvaluation is the zero time, 0001-01-01T00:00:00Z.
        evaluated = all(
            r["health"] == "ok" and not r["lastEvaluation"].startswith("0001") for r in rules
        )
        return rules if rules and evaluated else None

    rules = eventually(all_healthy, "every chart rule to evaluate healthy")
    assert len(rules) == len(_chart_rule_list(rendered))
    for rule in _chart_rule_list(rendered):
        result = prometheus.query(rule["expr"])
        assert not _misgrouped(rule["expr"], result, exposed), rule["expr"]


def test_the_upstream_down_alert_names_the_endpoint_by_its_url_and_its_upstream(
    prometheus: Prometheus, dead_url: str, traffic: None
) -> None:
    def firing() -> list[dict[str, Any]]:
        alerts = prometheus.api("alerts")["alerts"]
        name = "LlmGatewayUpstreamEndpointDown"
        return [a for a in alerts if a["labels"]["alertname"] == name and a["state"] == "firing"]

    [alert] = eventually(firing, "LlmGatewayUpstreamEndpointDown to fire")
    assert (alert["labels"]["upstream"], alert["labels"]["upstream_url"]) == (UPSTREAM, dead_url)
    assert alert["labels"]["job"] == JOB and alert["labels"]["namespace"] == NAMESPACE
    description = alert["annotations"]["description"]
    assert description.startswith(
        f"1 address(es) of {dead_url}, an endpoint of the upstream {UPSTREAM}, have been out"
    )
    recorded = prometheus.query(
        "upstream_upstream_url:llm_gateway_upstream_endpoint_ejected_addresses:max"
    )
    assert {
        (s["metric"]["upstream"], s["metric"]["upstream_url"], s["value"][1]) for s in recorded
    } >= {(UPSTREAM, dead_url, "1")}


def test_the_seed_write_ups_queries_work_as_written(prometheus: Prometheus, traffic: None) -> None:
    """http_requests_total and http_requests_total{handler="/generate"} (seed 000)."""
    assert prometheus.query("http_requests_total")
    generate = prometheus.query('http_requests_total{handler="/generate"}')
    assert {series["metric"]["handler"] for series in generate} == {"/generate"}
    # Two rounds of two here; starlette-exporter's metrics are the process's, and earlier
    # modules' gateways count in them too.
    assert sum(float(s["value"][1]) for s in generate) >= 4
