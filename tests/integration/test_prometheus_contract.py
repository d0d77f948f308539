"""The dashboards and alert rules against a real Prometheus scraping a real gateway.

A Prometheus (the Debian binary, on loopback, from a generated config) scrapes a
gateway every second under a job name that is not the default (`ai-gateway-prod`,
with a `namespace` label as Kubernetes service discovery would add), and evaluates
the rules rendered for that job (scripts/render_rules.py) every second, while
mixed traffic flows through the gateway to the simulator: both endpoints, streamed
and not, two models, and every fault the simulator can inject. The gateway runs with
every resilience feature on, and the traffic exercises each: requests retried and
recovered, handed to a fallback model, a stream cut and continued on the fallback, a
model's circuit opened and skipped, queued and shed beyond two upstream slots, a
client over its token budget, requests without a valid API key. Then, through
Prometheus' HTTP API:

* every dashboard's job, namespace and instance variables offer that job, namespace
  and target, and with them selected every target of every panel parses, executes
  and returns data (a finite value), as Grafana would query it; with the default job
  selected instead, the panels are empty;
* every rule group loads and evaluates healthy, every recording rule has data, and
  every rule's expression executes;
* a fault drill: the rules are rendered again with the latency threshold lowered
  below what the simulator takes and reloaded with `for:` cut to 1s, a dead gateway
  target is added, and every alert goes firing with that job's labels and its
  runbook link.

The chart's own rendering of the rules for another job is checked with promtool and
every unit test in tests/chart/test_chart_rules.py.

Everything waits on conditions, never on fixed sleeps; the module takes well under a
minute. Needs `prometheus` on PATH (scripts/install-prometheus.sh).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry
from scripts import render_rules
from scripts.render_rules import RuleValues

from llm_gateway.app import create_app
from llm_gateway.ports import free_port
from llm_gateway.settings import Settings
from llm_gateway.simulator.app import create_app as create_simulator_app
from llm_gateway.simulator.settings import SimulatorSettings
from tests.dashboards import grafana
from tests.helpers import MODEL, NEMO, Gateway
from tests.openai_schemas import conforming
from tests.prometheus import (
    Prometheus,
    eventually,
    run_prometheus,
    wait_until_scraped,
    without_for,
)
from tests.servers import RedisServer, run_server

# The scrape job and namespace: not the chart's default job, so nothing may rely on it.
JOB = "ai-gateway-prod"
NAMESPACE = "team-a"
RULE_VALUES = replace(RuleValues.from_chart(), selector=f'job="{JOB}"')
RULES = render_rules.render(RULE_VALUES)
FAULTS = ("rate_limit", "server_error", "unavailable", "hang", "drop", "malformed")
# Grafana's $__rate_interval for a 1 s scrape interval: max(interval + scrape, 4 * scrape).
RATE_INTERVAL = "4s"
ALERTS = {
    "LlmGatewayTargetDown",
    "LlmGatewayErrorBudgetBurn",
    "LlmGatewayLatencyBudgetBurn",
    "LlmGatewayTimeToFirstTokenHigh",
    "LlmGatewayUpstreamRateLimited",
    "LlmGatewayUpstreamErrorSpike",
    "LlmGatewayRetriesHigh",
    "LlmGatewayLoadShedding",
    "LlmGatewayCircuitOpen",
    "LlmGatewayStreamsContinued",
}
# A model whose circuit opens at its first failure and stays open for the module.
FLAKY = "flaky"
# API keys by alias: `app` sends the mixed traffic, `batch` overdraws its token budget.
APP_KEY = "sk-contract-app-0123456789"
BATCH_KEY = "sk-contract-batch-9876543210"
# Tokens per minute for each key: far above what `app` spends in the module, below
# what one `batch` request spends.
TOKENS_PER_MINUTE = 5000
# Upstream slots and queue: the burst fills both, then one more request is shed.
MAX_CONCURRENCY = 2


def _scrape_configs(gateway_target: str, *extra: dict[str, Any]) -> list[dict[str, Any]]:
    """The gateway's job: one static target, with the namespace discovery would add."""
    target = {"targets": [gateway_target], "labels": {"namespace": NAMESPACE}}
    return [{"job_name": JOB, "static_configs": [target, *extra]}]


@pytest.fixture(scope="module")
def contract_simulator_url() -> Iterator[str]:
    # First tokens after 20 ms and tokens 2 ms apart: fast, yet every latency
    # histogram gets observations, and the drill's lowered thresholds are exceeded.
    settings = SimulatorSettings(
        time_to_first_token_seconds=0.02,
        time_per_token_seconds=0.002,
        jitter=0.0,
        hang_seconds=2.0,
        # No Retry-After wait: a gateway that retries 429 and 503 would sit it out.
        retry_after_seconds=0,
        seed=11,
    )
    with run_server(create_simulator_app(settings)) as url:
        yield url


def _routing_table(directory: Path, simulator_url: str) -> Path:
    """The default model falls back to nemo, which continues broken streams; flaky
    falls back to nemo too, and its circuit opens at its first failure, for the module.
    USD per million tokens: the usage dashboard's cost panels need a price."""
    table = {
        "upstreams": [
            {"name": "simulator", "kind": "openai", "urls": [simulator_url], "simulator": True}
        ],
        # Two attempts per model, a silent one included (the burst's holders keep their
        # slot for two timeouts, see _send_burst). The fault traffic fails the default
        # model and nemo many times in a row: their circuits never open, so that every
        # fault reaches them as the traffic asks; flaky's is the circuit at work.
        "resilience": {
            "attempts": 2,
            "backoff_seconds": 0.01,
            "min_backoff_seconds": 0.01,
            "retry_timeouts": True,
            "circuit_failures": 1000,
        },
        "models": [
            {
                "name": MODEL,
                "upstream": "simulator",
                "fallbacks": [NEMO],
                "price": {"prompt": 0.25, "completion": 0.25},
            },
            {
                "name": NEMO,
                "aliases": ["nemo"],
                "upstream": "simulator",
                "prefill": "continue_final_message",
                "price": {"prompt": 0.3, "completion": 1},
            },
            {
                "name": FLAKY,
                "id": MODEL,
                "upstream": "simulator",
                "fallbacks": [NEMO],
                "resilience": {
                    "attempts": 1,
                    "circuit_failures": 1,
                    "circuit_cooldown_seconds": 3600,
                },
            },
        ],
    }
    path = directory / "routing.yaml"
    path.write_text(yaml.safe_dump(table))
    return path


@pytest.fixture(scope="module")
def gateway(
    contract_simulator_url: str,
    redis_server: RedisServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Gateway]:
    settings = Settings(
        config=_routing_table(tmp_path_factory.mktemp("routing"), contract_simulator_url),
        upstream_timeout_seconds=0.3,
        # The traffic is sequential but for the burst, which fills slots and queue.
        max_concurrency=MAX_CONCURRENCY,
        max_queue=1,
        queue_timeout_seconds=0.25,
        api_keys={"app": APP_KEY, "batch": BATCH_KEY},
        rate_limit_tokens_per_minute=TOKENS_PER_MINUTE,
        # The token budgets in Redis, so the rate-limit store's series exist.
        redis_url=redis_server.url,  # type: ignore[arg-type]
    )
    registry = CollectorRegistry()
    with run_server(conforming(create_app(settings, registry=registry))) as url:
        yield Gateway(url=url, registry=registry, settings=settings)


@pytest.fixture(scope="module")
def gateway_url(gateway: Gateway) -> str:
    return gateway.url


@pytest.fixture(scope="module")
def prometheus(gateway_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    target = gateway_url.removeprefix("http://")
    workdir = tmp_path_factory.mktemp("prometheus")
    with run_prometheus(workdir, target, _scrape_configs(target), RULES) as server:
        yield server


@dataclass
class Traffic:
    started: float
    responses: dict[str, httpx.Response]

    @property
    def statuses(self) -> dict[str, int]:
        return {name: response.status_code for name, response in self.responses.items()}


def _send_mixed_traffic(gateway: Gateway) -> dict[str, httpx.Response]:
    """Both endpoints, streamed or not, two models, /v1/models, an unknown path, every
    fault, then the resilience features: a retry, a stream continued, a circuit opened
    and skipped, a fallback, a burst that is shed, a client over its token budget and
    requests without a valid API key."""
    statuses: dict[str, httpx.Response] = {}

    def record(name: str, response: httpx.Response) -> None:
        response.read()
        statuses[name] = response

    headers = {"Authorization": f"Bearer {APP_KEY}"}
    with httpx.Client(base_url=gateway.url, headers=headers, timeout=10) as client:
        for round_ in range(2):
            for model in (MODEL, "nemo"):
                for stream in (False, True):
                    record(
                        f"generate {model} stream={stream} #{round_}",
                        client.post(
                            "/generate",
                            json={
                                "prompt": "Hello",
                                "model": model,
                                "max_new_tokens": 6,
                                "stream": stream,
                            },
                        ),
                    )
                    record(
                        f"chat {model} stream={stream} #{round_}",
                        client.post(
                            "/v1/chat/completions",
                            json={
                                "model": model,
                                "max_tokens": 6,
                                "stream": stream,
                                "messages": [{"role": "user", "content": "Hello"}],
                            },
                        ),
                    )
        record("models", client.get("/v1/models"))
        record("unknown path", client.get("/no/such/path"))
        for fault in FAULTS:
            headers = {"X-Simulator-Fault": fault}
            record(
                f"generate fault={fault}",
                client.post(
                    "/generate", headers=headers, json={"prompt": "Hello", "max_new_tokens": 6}
                ),
            )
            record(
                f"chat stream fault={fault}",
                client.post(
                    "/v1/chat/completions",
                    headers=headers,
                    json={
                        "max_tokens": 6,
                        "stream": True,
                        "messages": [{"role": "user", "content": "Hello"}],
                    },
                ),
            )
        hello = {"prompt": "Hello", "max_new_tokens": 6}
        # The first attempt fails with 503, the retry succeeds.
        record(
            "generate retried",
            client.post("/generate", headers=_fault("unavailable", times=1), json=hello),
        )
        # The stream is cut after a few tokens; nemo continues it from the partial answer.
        record(
            "chat stream continued",
            client.post(
                "/v1/chat/completions",
                headers=_fault("drop", times=1),
                json={
                    "max_tokens": 6,
                    "stream": True,
                    "messages": [{"role": "user", "content": "Hello"}],
                },
            ),
        )
        # flaky's first attempt fails and opens its circuit (for the module); then, and
        # in the second pass, its requests go straight to nemo.
        flaky = {**hello, "model": FLAKY}
        record(
            "flaky opened",
            client.post("/generate", headers=_fault("server_error", times=1), json=flaky),
        )
        record("flaky skipped", client.post("/generate", json=flaky))
        _send_burst(gateway, client, record)
        # One prompt of more tokens than the key's budget, then the key is refused.
        batch = {"Authorization": f"Bearer {BATCH_KEY}"}
        big = {"prompt": "x " * (TOKENS_PER_MINUTE + 1000), "max_new_tokens": 2}
        record("batch big prompt", client.post("/generate", headers=batch, json=big))
        record("batch over budget", client.post("/generate", headers=batch, json=hello))
        record("no key", httpx.post(f"{gateway.url}/generate", json=hello, timeout=10))
        record(
            "invalid key",
            client.post("/generate", headers={"Authorization": "Bearer wrong"}, json=hello),
        )
    return statuses


def _fault(fault: str, times: int) -> dict[str, str]:
    return {"X-Simulator-Fault": fault, "X-Simulator-Fault-Times": str(times)}


def _send_burst(
    gateway: Gateway,
    client: httpx.Client,
    record: Callable[[str, httpx.Response], None],
) -> None:
    """Fill both upstream slots and the queue, then send one request more.

    Each holder hangs on both attempts on the default model (0.3 s upstream timeout
    each) and is answered by the fallback: it holds its slot for over 0.6 s. The
    queued request gives up after the 0.25 s queue timeout (shed, queue_timeout); the
    one sent while it waits finds the queue full (shed at once, queue_full).
    """
    hello = {"prompt": "Hello", "max_new_tokens": 6}
    with ThreadPoolExecutor(max_workers=MAX_CONCURRENCY + 1) as pool:
        holders = [
            pool.submit(client.post, "/generate", headers=_fault("hang", times=2), json=hello)
            for _ in range(MAX_CONCURRENCY)
        ]
        eventually(
            lambda: (
                gateway.sample("llm_gateway_upstream_requests_in_flight", model=MODEL)
                == MAX_CONCURRENCY
            ),
            "the burst to take every upstream slot",
            timeout=5,
            interval=0.005,
        )
        queued = pool.submit(client.post, "/generate", json=hello)
        eventually(
            lambda: gateway.sample("llm_gateway_queued_requests") == 1,
            "a request to wait in the queue",
            timeout=5,
            interval=0.005,
        )
        record("burst over the queue", client.post("/generate", json=hello))
        record("burst queued", queued.result())
        for i, holder in enumerate(holders):
            record(f"burst holder {i}", holder.result())


@pytest.fixture(scope="module")
def traffic(gateway: Gateway, gateway_url: str, prometheus: Prometheus) -> Traffic:
    eventually(
        lambda: prometheus.query(f'up{{job="{JOB}"}} == 1'), "the first scrape of the gateway"
    )
    started = time.time()
    # A first pass creates every series (a counter is born at its first increment);
    # once scraped, the second pass shows up as increases that rate() can see.
    _send_mixed_traffic(gateway)
    wait_until_scraped(prometheus, gateway_url, JOB)
    responses = _send_mixed_traffic(gateway)
    wait_until_scraped(prometheus, gateway_url, JOB)
    # Two more scrapes, so every rate() window after the traffic holds two samples.
    after = time.time() + 2
    eventually(
        lambda: prometheus.query(f'timestamp(up{{job="{JOB}"}}) > {after}'),
        "two scrapes after the traffic",
    )
    return Traffic(started=started, responses=responses)


def test_mixed_traffic_produced_successes_client_errors_and_every_fault(traffic: Traffic) -> None:
    codes = traffic.statuses
    assert all(codes[name] == 200 for name in codes if "fault" not in name and "#" in name)
    assert codes["models"] == 200 and codes["unknown path"] == 404
    assert codes["generate fault=rate_limit"] == 429
    assert codes["generate fault=hang"] == 504
    for fault in ("server_error", "unavailable", "drop", "malformed"):
        assert codes[f"generate fault={fault}"] == 502, fault


def test_every_completion_says_how_long_the_gateway_added(traffic: Traffic) -> None:
    completions = {
        name: response
        for name, response in traffic.responses.items()
        if response.status_code == 200 and response.request.method == "POST"
    }
    assert any("stream=True" in name for name in completions)
    for name, response in completions.items():
        overhead = float(response.headers["x-gateway-overhead-ms"])
        assert 0 <= overhead < response.elapsed.total_seconds() * 1000, name


def test_traffic_exercised_every_resilience_feature(traffic: Traffic) -> None:
    responses, codes = traffic.responses, traffic.statuses
    assert codes["generate retried"] == 200
    continued = responses["chat stream continued"]
    assert continued.status_code == 200
    assert continued.text.endswith("data: [DONE]\n\n") and '"error"' not in continued.text
    for name in ("flaky opened", "flaky skipped"):
        assert codes[name] == 200 and responses[name].json()["model"] == NEMO, name
    for i in range(MAX_CONCURRENCY):
        holder = responses[f"burst holder {i}"]
        assert holder.status_code == 200 and holder.json()["model"] == NEMO, "fallback"
    for name in ("burst over the queue", "burst queued"):
        assert codes[name] == 503, name
        assert responses[name].headers["retry-after"] == "1"
        assert responses[name].json()["error"]["code"] == "gateway_overloaded"
    assert codes["batch over budget"] == 429
    assert responses["batch over budget"].json()["error"]["code"] == "tokens_per_minute_exceeded"
    assert codes["no key"] == 401 and codes["invalid key"] == 401


def _finite(value: str) -> bool:
    return math.isfinite(float(value))


def _dashboard_targets() -> list[Any]:
    return [
        pytest.param(path.name, panel["title"], target, id=f"{panel['title']} {target['refId']}")
        for path in grafana.DASHBOARD_FILES
        for panel, target in grafana.targets(grafana.load(path))
    ]


def _variable_values(prometheus: Prometheus, board: dict[str, Any]) -> dict[str, str]:
    """What a Grafana user picks: the scope variables set to the gateway's job,
    namespace and target, each among what its own query lists; filters left at All."""
    expected = {"job": JOB, "namespace": NAMESPACE, "instance": prometheus.gateway_target}
    chosen: dict[str, str] = {}
    for name, variable in grafana.variables(board).items():
        if variable["type"] != "query":
            continue
        match = re.fullmatch(r"label_values\((.+), (\w+)\)", grafana.variable_query(variable))
        assert match, variable
        series = grafana.substitute(match.group(1), board, overrides=chosen)
        offered = prometheus.api(f"label/{match.group(2)}/values", **{"match[]": series})
        if name in expected:
            assert expected[name] in offered, f"${name} offers {offered}"
            chosen[name] = expected[name]
        else:
            assert offered, f"${name} offers nothing for {series}"
    return chosen


def _panel_values(
    prometheus: Prometheus, traffic: Traffic, dashboard: str, target: dict[str, Any], **chosen: str
) -> tuple[str, list[str]]:
    board = grafana.load(grafana.DASHBOARDS_DIR / dashboard)
    overrides = {**_variable_values(prometheus, board), **chosen}
    now = time.time()
    range_ = f"{math.ceil(now - traffic.started) + 5}s"
    expr = grafana.substitute(
        target["expr"], board, rate_interval=RATE_INTERVAL, range_=range_, overrides=overrides
    )
    if target.get("instant"):
        data = prometheus.api("query", query=expr, time=now)
        return expr, [sample["value"][1] for sample in data["result"]]
    data = prometheus.api("query_range", query=expr, start=traffic.started - 2, end=now, step="1s")
    return expr, [v for series in data["result"] for _, v in series["values"]]


@pytest.mark.parametrize("dashboard,title,target", _dashboard_targets())
def test_dashboard_target_executes_and_returns_data(
    prometheus: Prometheus, traffic: Traffic, dashboard: str, title: str, target: dict[str, Any]
) -> None:
    expr, values = _panel_values(prometheus, traffic, dashboard, target)
    assert any(_finite(v) for v in values), f"{title}: no data for\n{expr}"


def test_dashboards_are_empty_for_a_job_that_is_not_selected(
    prometheus: Prometheus, traffic: Traffic
) -> None:
    for path in grafana.DASHBOARD_FILES:
        for panel, target in grafana.targets(grafana.load(path)):
            if "or vector(0)" in target["expr"]:
                continue  # a zero by design when nothing matches
            expr, values = _panel_values(prometheus, traffic, path.name, target, job="llm-gateway")
            assert not any(_finite(v) for v in values), f"{panel['title']}: data for\n{expr}"


def _groups(rules: dict[str, str]) -> list[dict[str, Any]]:
    return [group for text in rules.values() for group in yaml.safe_load(text)["groups"]]


def _rules() -> list[dict[str, Any]]:
    return [rule for group in _groups(RULES) for rule in group["rules"]]


def test_every_rule_group_loads_and_evaluates_healthy(
    prometheus: Prometheus, traffic: Traffic
) -> None:
    expected = {group["name"] for group in _groups(RULES)}

    def all_healthy() -> list[dict[str, Any]] | None:
        groups = prometheus.api("rules")["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        if {g["name"] for g in groups} == expected and all(r["health"] == "ok" for r in rules):
            return rules
        return None

    rules = eventually(all_healthy, "every rule to evaluate healthy")
    assert len(rules) == len(_rules())
    assert not [r for r in rules if r.get("lastError")]


@pytest.mark.parametrize("rule", _rules(), ids=lambda r: r.get("alert") or r.get("record"))
def test_rule_expression_executes(
    prometheus: Prometheus, traffic: Traffic, rule: dict[str, Any]
) -> None:
    prometheus.query(rule["expr"])
    if "record" in rule:
        eventually(
            lambda: [s for s in prometheus.query(rule["record"]) if _finite(s["value"][1])],
            f"data for the recording rule {rule['record']}",
        )


def _drill_rules() -> dict[str, str]:
    """The rules with `for:` cut to 1s and thresholds below what the simulator takes."""
    # The 10 ms bucket boundary of llm_gateway_request_duration_seconds: non-streamed
    # answers take 20 ms and more here.
    rendered = render_rules.render(replace(RULE_VALUES, latency_threshold_seconds="0.01"))
    drilled = {}
    for name, text in rendered.items():
        text = without_for(text, "1s")
        # The time to first token threshold (first tokens take 20 ms here).
        drilled[name] = text.replace(") > 2.5\n", ") > 0.01\n")
        assert drilled[name] != RULES[name], name
    return drilled


def test_fault_drill_fires_every_alert(prometheus: Prometheus, traffic: Traffic) -> None:
    for name, text in _drill_rules().items():
        (prometheus.rules / name).write_text(text)
    # A second gateway replica, in another namespace, that is down.
    dead = f"127.0.0.1:{free_port()}"
    drill = {"targets": [dead], "labels": {"namespace": "drill"}}
    prometheus.write_config(_scrape_configs(prometheus.gateway_target, drill))
    prometheus.reload()

    def reloaded() -> bool:
        groups = prometheus.api("rules")["groups"]
        durations = {
            r.get("duration") for g in groups for r in g["rules"] if r["type"] == "alerting"
        }
        return durations == {1}

    eventually(reloaded, f"Prometheus to load the drill rules\n{prometheus.log_tail()}")

    def firing() -> dict[str, list[dict[str, Any]]] | None:
        alerts: dict[str, list[dict[str, Any]]] = {}
        for alert in prometheus.api("alerts")["alerts"]:
            if alert["state"] == "firing":
                alerts.setdefault(alert["labels"]["alertname"], []).append(alert)
        return alerts if ALERTS <= set(alerts) else None

    alerts = eventually(firing, "every alert to fire", timeout=30)

    def labels(name: str) -> list[dict[str, str]]:
        return [a["labels"] for a in alerts[name]]

    assert {"namespace": "drill", "job": JOB}.items() <= labels("LlmGatewayTargetDown")[0].items()
    assert "critical" in {lb["severity"] for lb in labels("LlmGatewayErrorBudgetBurn")}
    assert "critical" in {lb["severity"] for lb in labels("LlmGatewayLatencyBudgetBurn")}
    assert {lb["model"] for lb in labels("LlmGatewayTimeToFirstTokenHigh")} >= {MODEL}
    # The default model's 429s are passed on; its fallback got them too, after it.
    assert {lb["reason"] for lb in labels("LlmGatewayUpstreamRateLimited")} == {"rate_limited"}
    assert MODEL in {lb["model"] for lb in labels("LlmGatewayUpstreamRateLimited")}
    assert (MODEL, "server_error") in {
        (lb["model"], lb["reason"]) for lb in labels("LlmGatewayUpstreamErrorSpike")
    }
    assert MODEL in {lb["model"] for lb in labels("LlmGatewayRetriesHigh")}
    assert [lb["job"] for lb in labels("LlmGatewayLoadShedding")] == [JOB]
    assert [lb["model"] for lb in labels("LlmGatewayCircuitOpen")] == [FLAKY]
    assert NEMO in {lb["model"] for lb in labels("LlmGatewayStreamsContinued")}
    base = "https://github.com/llm-monitor/llm-monitor/blob/main/docs/runbooks.md#"
    for name, firing_alerts in alerts.items():
        for alert in firing_alerts:
            annotations = alert["annotations"]
            assert annotations["runbook_url"] == base + name.lower()
            assert annotations["summary"] and "{{" not in annotations["description"]
