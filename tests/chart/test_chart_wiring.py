"""The rendered objects fit together: selectors, ports, labels, files, secrets, schema."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from llm_gateway.settings import Settings
from tests.chart.conftest import CHART, NAMESPACE, RELEASE, REPO, Chart, Rendered
from tests.helpers import SETTING_VARIABLES

CI = CHART / "ci"
MINIKUBE = REPO / "values-minikube.yaml"
SECRET = "hf_TESTSECRET123"


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def pod_labels(deployment: dict[str, Any]) -> dict[str, str]:
    return deployment["spec"]["template"]["metadata"]["labels"]


def container(deployment: dict[str, Any], name: str) -> dict[str, Any]:
    return next(
        c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == name
    )


def gateway(rendered: Rendered) -> dict[str, Any]:
    return rendered.one("Deployment", f"{RELEASE}-llm-monitor")


def gateway_config(rendered: Rendered) -> dict[str, str]:
    return rendered.one("ConfigMap", f"{RELEASE}-llm-monitor")["data"]


# Services and monitors


@pytest.mark.parametrize("values", [[], [MINIKUBE], [CI / "simulator-values.yaml"]])
def test_service_selects_the_gateway_pods_and_their_http_port(render, values) -> None:
    rendered = render(*values)
    service = rendered.one("Service", f"{RELEASE}-llm-monitor")
    deployment = gateway(rendered)
    assert selects(service["spec"]["selector"], pod_labels(deployment))
    assert selects(deployment["spec"]["selector"]["matchLabels"], pod_labels(deployment))
    [port] = service["spec"]["ports"]
    assert port["name"] == "http"
    ports = {p["name"]: p["containerPort"] for p in container(deployment, "gateway")["ports"]}
    assert ports == {"http": 8000}
    assert port["targetPort"] == "http"


def test_gateway_service_never_selects_the_simulator_or_test_pods(render) -> None:
    rendered = render(CI / "simulator-values.yaml")
    service = rendered.one("Service", f"{RELEASE}-llm-monitor")
    simulator = rendered.one("Deployment", f"{RELEASE}-llm-monitor-simulator")
    assert not selects(service["spec"]["selector"], pod_labels(simulator))
    test_pod = rendered.one("Pod")
    assert not selects(service["spec"]["selector"], test_pod["metadata"]["labels"])


@pytest.mark.parametrize("values", [[], [MINIKUBE], [CI / "app-only-values.yaml"]])
def test_servicemonitor_scrapes_the_gateway_service_as_job_llm_gateway(render, values) -> None:
    rendered = render(*values)
    monitor = rendered.one("ServiceMonitor")
    service = rendered.one("Service", f"{RELEASE}-llm-monitor")
    assert selects(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    assert endpoint["interval"] == "15s"
    assert {"action": "replace", "targetLabel": "job", "replacement": "llm-gateway"} in endpoint[
        "relabelings"
    ]


def test_servicemonitor_interval_and_job_are_configurable(render) -> None:
    rendered = render(sets=("serviceMonitor.interval=30s", "serviceMonitor.jobLabel=gw"))
    [endpoint] = rendered.one("ServiceMonitor")["spec"]["endpoints"]
    assert endpoint["interval"] == "30s"
    assert endpoint["relabelings"][0]["replacement"] == "gw"


def test_monitoring_objects_carry_the_release_label(render) -> None:
    rendered = render()
    for kind in ("ServiceMonitor", "PrometheusRule"):
        assert rendered.one(kind)["metadata"]["labels"]["release"] == RELEASE


def test_app_alone_labels_monitoring_objects_for_the_existing_stack(render) -> None:
    rendered = render(CI / "app-only-values.yaml")
    for kind in ("ServiceMonitor", "PrometheusRule"):
        assert rendered.one(kind)["metadata"]["labels"]["release"] == "monitoring"


def test_kube_prometheus_stack_disabled_renders_the_app_alone(render) -> None:
    assert render().kind("ConfigMap") and any(
        o["metadata"]["name"] == "kube-prometheus-stack-stand-in" for o in render().objects
    ), "the stand-in subchart should render when kube-prometheus-stack is enabled"
    rendered = render(sets=("kube-prometheus-stack.enabled=false",))
    names = {o["metadata"]["name"] for o in rendered.objects}
    assert "kube-prometheus-stack-stand-in" not in names
    assert {"Deployment", "Service", "ServiceMonitor", "PrometheusRule"} <= set(rendered.by_kind)


def test_everything_optional_off_renders_only_the_gateway_core(render) -> None:
    rendered = render(CI / "all-optional-off-values.yaml")
    kinds = sorted(o["kind"] for o in rendered.objects)
    assert kinds == ["ConfigMap", "Deployment", "Service"]
    spec = gateway(rendered)["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == "default"


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        ("autoscaling-values.yaml", "HorizontalPodAutoscaler"),
        ("pdb-values.yaml", "PodDisruptionBudget"),
        ("network-policy-values.yaml", "NetworkPolicy"),
    ],
)
def test_each_optional_object_is_off_by_default_and_on_with_its_toggle(
    render, values: str, kind: str
) -> None:
    assert not render().kind(kind)
    objects = render(CI / values).kind(kind)
    assert objects
    gateway_pods = pod_labels(gateway(render(CI / values)))
    own = next(o for o in objects if o["metadata"]["name"] == f"{RELEASE}-llm-monitor")
    if kind == "HorizontalPodAutoscaler":
        assert own["spec"]["scaleTargetRef"]["name"] == f"{RELEASE}-llm-monitor"
        assert "replicas" not in gateway(render(CI / values))["spec"]
    else:
        selector = own["spec"].get("selector") or own["spec"]["podSelector"]
        assert selects(selector["matchLabels"], gateway_pods)


def test_network_policy_lets_only_the_gateway_reach_the_simulator(render) -> None:
    rendered = render(CI / "network-policy-values.yaml")
    policy = rendered.one("NetworkPolicy", f"{RELEASE}-llm-monitor-simulator")
    [rule] = policy["spec"]["ingress"]
    [peer] = rule["from"]
    assert selects(peer["podSelector"]["matchLabels"], pod_labels(gateway(rendered)))
    simulator = rendered.one("Deployment", f"{RELEASE}-llm-monitor-simulator")
    assert selects(policy["spec"]["podSelector"]["matchLabels"], pod_labels(simulator))


# The simulator


def test_simulator_is_wired_as_the_gateway_upstream(render) -> None:
    rendered = render(CI / "simulator-values.yaml")
    service = rendered.one("Service", f"{RELEASE}-llm-monitor-simulator")
    simulator = rendered.one("Deployment", f"{RELEASE}-llm-monitor-simulator")
    assert selects(service["spec"]["selector"], pod_labels(simulator))
    config = gateway_config(rendered)
    # The headless Service: one pool address per simulator pod.
    assert config["LLM_GATEWAY_UPSTREAM_URL"] == f"http://{RELEASE}-llm-monitor-simulator-pods:8081"
    assert config["LLM_GATEWAY_UPSTREAM_IS_SIMULATOR"] == "true"
    box = container(simulator, "simulator")
    assert box["args"][:1] == ["simulate"]
    assert {"name": "LLM_SIMULATOR_SERVER_ERROR_RATE", "value": "0.02"} in box["env"]
    assert box["readinessProbe"]["httpGet"]["path"] == "/health"


def test_without_simulator_the_gateway_has_no_upstream_override(render) -> None:
    config = gateway_config(render())
    assert "LLM_GATEWAY_UPSTREAM_URL" not in config
    assert config["LLM_GATEWAY_UPSTREAM_IS_SIMULATOR"] == "false"
    # No kind either: the gateway's own default (huggingface without a URL).
    assert "LLM_GATEWAY_UPSTREAM_KIND" not in config
    assert not render().kind("Deployment")[1:], "only the gateway Deployment by default"


@pytest.mark.parametrize(
    ("upstream", "given", "kind"),
    [
        ("gateway.upstreamUrl=", "", "huggingface"),
        ("gateway.upstreamUrl=http://vllm:8000", "", "openai"),
        ("simulator.enabled=true", "", "openai"),
        ("gateway.upstreamUrl=http://tgi:8080", "huggingface", "huggingface"),
        ("simulator.enabled=true", "huggingface", "huggingface"),
    ],
)
def test_the_upstream_kind_is_the_gateways_own_default_unless_set(
    render, upstream: str, given: str, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = gateway_config(render(sets=(upstream, f"gateway.upstreamKind={given}")))
    for name, value in config.items():
        monkeypatch.setenv(name, value)

    assert Settings().upstream_api == kind
    # Empty, it is not passed: the gateway decides (openai with a URL, else huggingface).
    assert config.get("LLM_GATEWAY_UPSTREAM_KIND") == (given or None)


def test_the_schema_refuses_an_unknown_upstream_kind(chart: Chart) -> None:
    assert "upstreamKind" in chart.render_fails("gateway.upstreamKind=vllm")


# The gateway pod


@pytest.mark.parametrize("values", [[], [MINIKUBE]])
def test_gateway_pod_is_restricted_and_probed(render, values) -> None:
    deployment = gateway(render(*values))
    pod = deployment["spec"]["template"]["spec"]
    box = container(deployment, "gateway")
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert box["securityContext"]["readOnlyRootFilesystem"] is True
    assert box["securityContext"]["allowPrivilegeEscalation"] is False
    assert box["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert {"name": "tmp", "mountPath": "/tmp"} in box["volumeMounts"]
    assert any(v["name"] == "tmp" and "emptyDir" in v for v in pod["volumes"])
    assert box["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert box["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert box["args"] == ["serve", "--host", "0.0.0.0", "--port", "8000"]
    assert pod["enableServiceLinks"] is False
    # The server closes its listener on SIGTERM: Services must stop routing here first.
    assert box["lifecycle"]["preStop"] == {"sleep": {"seconds": 5}}


def test_termination_grace_covers_the_drain(render) -> None:
    pod = gateway(render(sets=("gateway.drainSeconds=45",)))["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 5 + 45 + 10
    assert (
        gateway_config(render(sets=("gateway.drainSeconds=45",)))["LLM_GATEWAY_DRAIN_SECONDS"]
        == "45"
    )


def test_a_config_change_rolls_the_pods(render) -> None:
    def checksum(rendered: Rendered) -> str:
        return gateway(rendered)["spec"]["template"]["metadata"]["annotations"]["checksum/config"]

    assert checksum(render()) != checksum(render(sets=("gateway.logLevel=debug",)))


def test_gateway_settings_reach_the_environment(render) -> None:
    config = gateway_config(render(CI / "gateway-settings-values.yaml"))
    assert json.loads(config["LLM_GATEWAY_MODELS"])["mixtral"] == (
        "mistralai/Mixtral-8x7B-Instruct-v0.1"
    )
    assert config["LLM_GATEWAY_UPSTREAM_URL"] == "https://my-endpoint.example.com"
    assert config["LLM_GATEWAY_UPSTREAM_KIND"] == "huggingface"
    assert config["LLM_GATEWAY_WORKERS"] == "4"
    assert all(isinstance(v, str) for v in config.values())


@pytest.mark.parametrize(
    "values", [[], [CI / "gateway-settings-values.yaml"], [CI / "api-keys-values.yaml"]]
)
def test_every_setting_the_chart_passes_is_one_the_gateway_reads(
    render, values, monkeypatch: pytest.MonkeyPatch
) -> None:
    known = set(SETTING_VARIABLES)
    config = dict(gateway_config(render(*values)))  # a copy: renders are cached
    assert set(config) <= known
    # The gateway reads them from its environment, as the pod hands them over.
    config.pop("LLM_GATEWAY_API_KEYS_FILE", None)  # the mounted file exists only in the pod
    for name, value in config.items():
        monkeypatch.setenv(name, value)

    settings = Settings()

    assert settings.default_model == config["LLM_GATEWAY_DEFAULT_MODEL"]


def test_api_keys_come_from_the_mounted_secret_and_the_scrape_and_test_bring_keys(
    render,
) -> None:
    rendered = render(CI / "api-keys-values.yaml")
    config = gateway_config(rendered)
    pod = gateway(rendered)["spec"]["template"]["spec"]
    [mount] = [
        m
        for m in container(gateway(rendered), "gateway")["volumeMounts"]
        if m["name"] == "api-keys"
    ]
    [volume] = [v for v in pod["volumes"] if v["name"] == "api-keys"]

    assert mount["readOnly"] is True
    assert volume["secret"]["secretName"] == "llm-gateway-client-keys"
    assert config["LLM_GATEWAY_API_KEYS_FILE"] == f"{mount['mountPath']}/keys.json"
    assert [i["path"] for i in volume["secret"]["items"]] == ["keys.json"]
    assert config["LLM_GATEWAY_PROTECT_METRICS"] == "true"
    [endpoint] = rendered.one("ServiceMonitor")["spec"]["endpoints"]
    assert endpoint["authorization"]["credentials"]["key"] == "metrics-key"
    test_env = rendered.one("Pod")["spec"]["containers"][0]["env"]
    assert {
        "name": "GATEWAY_API_KEY",
        "valueFrom": {"secretKeyRef": {"name": "llm-gateway-client-keys", "key": "test-key"}},
    } in test_env
    assert "LLM_GATEWAY_API_KEYS_FILE" not in gateway_config(render())


def test_minikube_uses_the_local_image_without_pulling(render) -> None:
    rendered = render(MINIKUBE)
    for deployment in rendered.kind("Deployment"):
        for box in deployment["spec"]["template"]["spec"]["containers"]:
            assert box["image"] == "localhost/llm-gateway:dev"
            assert box["imagePullPolicy"] == "Never"
    assert gateway_config(rendered)["LLM_GATEWAY_UPSTREAM_IS_SIMULATOR"] == "true"


# The Hugging Face token


def test_hf_token_appears_in_no_object_but_the_secret(render) -> None:
    rendered = render(CI / "hf-token-values.yaml")
    secret = rendered.one("Secret")
    assert secret["data"]["HF_TOKEN"]
    for obj in rendered.objects:
        if obj is not secret:
            assert SECRET not in yaml.safe_dump(obj), f"token leaked into {obj['kind']}"
    env = container(gateway(rendered), "gateway")["env"]
    ref = next(e for e in env if e["name"] == "HF_TOKEN")["valueFrom"]["secretKeyRef"]
    assert ref == {"name": secret["metadata"]["name"], "key": "HF_TOKEN"}


def test_existing_secret_is_referenced_and_no_secret_is_created(render) -> None:
    rendered = render(CI / "existing-secret-values.yaml")
    assert not rendered.kind("Secret")
    env = container(gateway(rendered), "gateway")["env"]
    ref = next(e for e in env if e["name"] == "HF_TOKEN")["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "my-hf-token", "key": "token"}


def test_no_token_means_no_secret_and_no_token_variable(render) -> None:
    rendered = render()
    assert not rendered.kind("Secret")
    names = [e["name"] for e in container(gateway(rendered), "gateway")["env"]]
    assert "HF_TOKEN" not in names


# Dashboards and rules


def test_chart_dashboards_directory_is_the_repository_one() -> None:
    link = CHART / "dashboards"
    assert link.is_symlink()
    assert Path(link.readlink()) == Path("../../dashboards")


def test_chart_ships_every_dashboard_as_its_own_configmap(render, shipped_dashboards) -> None:
    assert shipped_dashboards
    configmaps = [
        c for c in render().kind("ConfigMap") if c["metadata"]["labels"].get("grafana_dashboard")
    ]
    shipped = {}
    for configmap in configmaps:
        assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert configmap["metadata"]["annotations"]["grafana_folder"] == "LLM Gateway"
        [(key, text)] = configmap["data"].items()
        shipped[key] = json.loads(text)
    assert shipped == {p.name: json.loads(p.read_text()) for p in shipped_dashboards}


def test_dashboards_folder_annotation_matches_the_grafana_sidecar(render) -> None:
    values = yaml.safe_load(MINIKUBE.read_text())
    sidecar = values["kube-prometheus-stack"]["grafana"]["sidecar"]["dashboards"]
    chart_values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert sidecar["folderAnnotation"] == chart_values["dashboards"]["folderAnnotation"]
    assert sidecar["provider"]["foldersFromFilesStructure"] is True


def test_disabled_dashboards_and_rules_render_nothing(render) -> None:
    rendered = render(sets=("dashboards.enabled=false", "prometheusRule.enabled=false"))
    assert not rendered.kind("PrometheusRule")
    assert not [
        c for c in rendered.kind("ConfigMap") if "grafana_dashboard" in c["metadata"]["labels"]
    ]


def test_packaged_chart_contains_every_dashboard_and_rule_file(
    chart: Chart, tmp_path: Path, shipped_dashboards, shipped_rule_files
) -> None:
    chart.run("package", str(chart.path), "--destination", str(tmp_path))
    [package] = tmp_path.glob("llm-monitor-*.tgz")
    with tarfile.open(package) as archive:
        names = set(archive.getnames())
    for path in shipped_dashboards:
        assert f"llm-monitor/dashboards/{path.name}" in names
    for path in shipped_rule_files:
        assert f"llm-monitor/rules/{path.name}" in names


# helm test


def test_helm_test_pod_calls_readyz_and_generate(render) -> None:
    pod = render().one("Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    [box] = pod["spec"]["containers"]
    script = box["command"][-1]
    assert '"/readyz"' in script and '"/generate"' in script and '"max_new_tokens": 4' in script
    assert {"name": "GATEWAY_URL", "value": f"http://{RELEASE}-llm-monitor:8000"} in box["env"]


# values.yaml and its schema


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (("unknownKey=1",), "additional properties 'unknownKey' not allowed"),
        (("gateway.colour=blue",), "additional properties 'colour' not allowed"),
        (("replicaCount=two",), "want integer"),
        (("serviceMonitor.enabled=maybe",), "want boolean"),
        (("gateway.logFormat=xml",), "logFormat"),
        # The old default, a boundary of http_request_duration_seconds, not of the SLI's.
        (("prometheusRule.latencyThresholdSeconds=5.0",), "latencyThresholdSeconds"),
    ],
)
def test_schema_rejects_unknown_keys_and_wrong_types(chart: Chart, sets, message: str) -> None:
    assert message in chart.render_fails(*sets)


def test_schema_lets_kube_prometheus_stack_values_through(render) -> None:
    rendered = render(sets=("kube-prometheus-stack.grafana.anything.goes=1",))
    assert rendered.one("Deployment")


def test_schema_is_draft_07_and_closed() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert schema["additionalProperties"] is False
    assert schema["properties"]["kube-prometheus-stack"]["additionalProperties"] is True
