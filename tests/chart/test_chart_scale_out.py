"""Scale-out in the chart: Redis for the rate limits, upstream pools, simulator pods."""

from __future__ import annotations

import base64
from typing import Any

import yaml

from llm_gateway.settings import Settings
from tests.chart.conftest import CHART, RELEASE, Rendered
from tests.helpers import SETTING_VARIABLES

CI = CHART / "ci"
REDIS = f"{RELEASE}-llm-monitor-redis"


def gateway_pod(rendered: Rendered) -> dict[str, Any]:
    return rendered.one("Deployment", f"{RELEASE}-llm-monitor")["spec"]["template"]


def gateway_env(rendered: Rendered) -> list[dict[str, Any]]:
    [box] = [c for c in gateway_pod(rendered)["spec"]["containers"] if c["name"] == "gateway"]
    return list(box["env"])


def config(rendered: Rendered) -> dict[str, str]:
    return rendered.one("ConfigMap", f"{RELEASE}-llm-monitor")["data"]


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def test_without_redis_nothing_of_it_renders(render) -> None:
    rendered = render()
    assert not [o for o in rendered.objects if "redis" in o["metadata"]["name"]]
    assert not {k for k in config(rendered) if "REDIS" in k}
    assert "LLM_GATEWAY_REDIS_PASSWORD" not in {e["name"] for e in gateway_env(rendered)}


def test_the_bundled_redis_is_wired_to_the_gateway_with_a_generated_password(render) -> None:
    rendered = render(CI / "redis-values.yaml")
    service = rendered.one("Service", REDIS)
    redis = rendered.one("Deployment", REDIS)
    secret = rendered.one("Secret", REDIS)
    pod = redis["spec"]["template"]
    assert selects(service["spec"]["selector"], pod["metadata"]["labels"])
    assert not selects(
        rendered.one("Service", f"{RELEASE}-llm-monitor")["spec"]["selector"],
        pod["metadata"]["labels"],
    )
    settings = config(rendered)
    assert settings["LLM_GATEWAY_REDIS_URL"] == f"redis://{REDIS}:6379/0"
    assert settings["LLM_GATEWAY_RATE_LIMIT_FAILURE_MODE"] == "closed"
    password = base64.b64decode(secret["data"]["redis-password"]).decode()
    assert len(password) == 32
    reference = {"secretKeyRef": {"name": REDIS, "key": "redis-password"}}
    assert {"name": "LLM_GATEWAY_REDIS_PASSWORD", "valueFrom": reference} in gateway_env(rendered)
    [box] = pod["spec"]["containers"]
    assert {"name": "REDIS_PASSWORD", "valueFrom": reference} in box["env"]
    assert box["args"][:3] == ["redis-server", "--requirepass", "$(REDIS_PASSWORD)"]
    assert ["--save", ""] == box["args"][3:5]  # no persistence
    assert not [v for v in pod["spec"]["volumes"] if "persistentVolumeClaim" in v]
    for obj in rendered.objects:
        if obj is not secret:
            assert password not in yaml.safe_dump(obj), f"password in {obj['kind']}"


def test_only_the_gateway_may_reach_the_bundled_redis(render) -> None:
    rendered = render(CI / "redis-values.yaml")
    policy = rendered.one("NetworkPolicy", REDIS)
    redis_pod = rendered.one("Deployment", REDIS)["spec"]["template"]
    assert selects(policy["spec"]["podSelector"]["matchLabels"], redis_pod["metadata"]["labels"])
    [rule] = policy["spec"]["ingress"]
    [peer] = rule["from"]
    assert selects(peer["podSelector"]["matchLabels"], gateway_pod(rendered)["metadata"]["labels"])
    assert rule["ports"] == [{"port": "redis", "protocol": "TCP"}]


def test_an_external_redis_takes_its_password_from_the_operators_secret(render) -> None:
    rendered = render(CI / "redis-external-values.yaml")
    assert not [o for o in rendered.objects if o["metadata"]["name"] == REDIS]
    assert config(rendered)["LLM_GATEWAY_REDIS_URL"] == (
        "rediss://rate-limits.cache.example.com:6380/0"
    )
    reference = {"secretKeyRef": {"name": "my-redis", "key": "password"}}
    assert {"name": "LLM_GATEWAY_REDIS_PASSWORD", "valueFrom": reference} in gateway_env(rendered)


def test_every_scale_out_setting_the_chart_passes_is_one_the_gateway_reads(render) -> None:
    known = set(SETTING_VARIABLES)
    for values in ("redis", "redis-external", "upstream-pool", "simulator-pool"):
        assert set(config(render(CI / f"{values}-values.yaml"))) <= known, values


def test_upstream_urls_reach_the_gateway_as_one_pool(render, monkeypatch) -> None:
    url = config(render(CI / "upstream-pool-values.yaml"))["LLM_GATEWAY_UPSTREAM_URL"]
    monkeypatch.setenv("LLM_GATEWAY_UPSTREAM_URL", url)

    assert Settings().upstream_endpoints == [
        "http://tgi-0.models:8080",
        "http://tgi-1.models:8080",
        "http://tgi-2.models:8080",
    ]


def test_simulator_pods_sit_behind_a_headless_service_the_gateway_resolves(render) -> None:
    rendered = render(CI / "simulator-pool-values.yaml")
    simulator = rendered.one("Deployment", f"{RELEASE}-llm-monitor-simulator")
    headless = rendered.one("Service", f"{RELEASE}-llm-monitor-simulator-pods")
    assert simulator["spec"]["replicas"] == 3
    assert headless["spec"]["clusterIP"] == "None"
    assert selects(
        headless["spec"]["selector"], simulator["spec"]["template"]["metadata"]["labels"]
    )
    assert config(rendered)["LLM_GATEWAY_UPSTREAM_URL"] == (
        f"http://{RELEASE}-llm-monitor-simulator-pods:8081"
    )


def test_schema_refuses_a_password_in_the_redis_url(chart) -> None:
    assert "redis" in chart.render_fails("redis.url=redis://user:secret@cache:6379/0")
    assert "failureMode" in chart.render_fails("redis.failureMode=maybe")
