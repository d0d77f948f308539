"""The scrape job the Prometheus Operator makes of a ServiceMonitor, without Kubernetes.

prometheus-operator turns each endpoint of a ServiceMonitor into one scrape job
(``generateServiceMonitorConfig`` in its ``pkg/prometheus/promcfg.go``; the golden files
``pkg/prometheus/testdata/*ServiceMonitor*.golden`` show the result): Kubernetes
discovery of the selected Services' endpoints (role ``endpoints``), then relabelling
that keeps the Services the selector matches and the endpoint's port, and sets the
target labels ``node`` or ``pod`` (from the address's target), ``namespace``,
``service``, ``pod``, ``container``, ``job`` (the Service's name, or the value of its
``spec.jobLabel`` label) and ``endpoint`` (the port's name); then the endpoint's own
``relabelings``. Its ``metricRelabelings`` become ``metric_relabel_configs``, and
``honor_labels`` is false unless the endpoint says ``honorLabels: true``: a scraped
label named like a target label is then renamed ``exported_<name>``.

Here, discovery is one ``static_configs`` entry per target whose labels are the
``__meta_kubernetes_*`` labels discovery would give it (:func:`discovered`), and the
relabelling is the operator's, rule for rule, in its order. Left out: sharding (with one
shard it keeps every target) and scrape classes. Fields of a ServiceMonitor that are not
reproduced here are refused, so a chart that starts using one fails loudly.
"""

from __future__ import annotations

import re
from typing import Any

# What scrape_job reproduces of a ServiceMonitor's spec and of each of its endpoints.
SPEC_FIELDS = {"selector", "namespaceSelector", "endpoints", "jobLabel"}
ENDPOINT_FIELDS = {
    "port",
    "path",
    "scheme",
    "interval",
    "scrapeTimeout",
    "honorLabels",
    "relabelings",
    "metricRelabelings",
}
# A RelabelConfig's fields, as the CRD spells them and as Prometheus does.
RELABEL_FIELDS = {
    "sourceLabels": "source_labels",
    "separator": "separator",
    "targetLabel": "target_label",
    "regex": "regex",
    "modulus": "modulus",
    "replacement": "replacement",
    "action": "action",
}


def _label_name(name: str) -> str:
    """A Kubernetes label's name as a Prometheus label name (the operator's sanitizer)."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def discovered(service: dict[str, Any], deployment: dict[str, Any], port: str) -> dict[str, str]:
    """The labels role-``endpoints`` discovery gives the address of a pod of ``deployment``
    behind ``service``'s port named ``port`` (the ``__address__`` aside)."""
    [service_port] = [p for p in service["spec"]["ports"] if p["name"] == port]
    pods = deployment["spec"]["template"]
    assert service["spec"]["selector"].items() <= pods["metadata"]["labels"].items()
    [container] = [
        c
        for c in pods["spec"]["containers"]
        if service_port["targetPort"] in {p.get("name") for p in c.get("ports", ())}
    ]
    pod = f"{deployment['metadata']['name']}-7d9f8c6b5-x2x4q"  # a ReplicaSet's pod name
    labels = {
        "__meta_kubernetes_namespace": service["metadata"]["namespace"],
        "__meta_kubernetes_service_name": service["metadata"]["name"],
        "__meta_kubernetes_endpoint_port_name": port,
        "__meta_kubernetes_endpoint_address_target_kind": "Pod",
        "__meta_kubernetes_endpoint_address_target_name": pod,
        "__meta_kubernetes_pod_name": pod,
        "__meta_kubernetes_pod_container_name": container["name"],
        "__meta_kubernetes_pod_phase": "Running",
    }
    for name, value in service["metadata"].get("labels", {}).items():
        labels[f"__meta_kubernetes_service_label_{_label_name(name)}"] = value
        labels[f"__meta_kubernetes_service_labelpresent_{_label_name(name)}"] = "true"
    return labels


def _relabel_config(rule: dict[str, Any]) -> dict[str, Any]:
    unknown = set(rule) - set(RELABEL_FIELDS)
    assert not unknown, f"relabeling fields not reproduced: {sorted(unknown)}"
    config = {RELABEL_FIELDS[key]: value for key, value in rule.items()}
    if "action" in config:
        config["action"] = config["action"].lower()
    return config


def scrape_job(
    monitor: dict[str, Any], index: int, targets: list[tuple[str, dict[str, str]]]
) -> dict[str, Any]:
    """The scrape config of ``monitor``'s endpoint ``index``, for ``targets``: (address,
    discovered labels) pairs, as the operator's discovery would find them."""
    spec, metadata = monitor["spec"], monitor["metadata"]
    unknown = set(spec) - SPEC_FIELDS
    assert not unknown, f"ServiceMonitor fields not reproduced: {sorted(unknown)}"
    endpoint = spec["endpoints"][index]
    unknown = set(endpoint) - ENDPOINT_FIELDS
    assert not unknown, f"ServiceMonitor endpoint fields not reproduced: {sorted(unknown)}"
    assert not spec["selector"].get("matchExpressions"), "matchExpressions not reproduced"
    namespaces = spec.get("namespaceSelector", {}).get("matchNames") or [metadata["namespace"]]
    for _, labels in targets:  # discovery watches only these namespaces
        assert labels["__meta_kubernetes_namespace"] in namespaces, labels
    target_kind_name = [
        "__meta_kubernetes_endpoint_address_target_kind",
        "__meta_kubernetes_endpoint_address_target_name",
    ]
    relabel: list[dict[str, Any]] = [
        {"source_labels": ["job"], "target_label": "__tmp_prometheus_job_name"}
    ]
    for name, value in sorted(spec["selector"].get("matchLabels", {}).items()):
        relabel.append(
            {
                "action": "keep",
                "source_labels": [
                    f"__meta_kubernetes_service_label_{_label_name(name)}",
                    f"__meta_kubernetes_service_labelpresent_{_label_name(name)}",
                ],
                "regex": f"({value});true",
            }
        )
    relabel += [
        {
            "action": "keep",
            "source_labels": ["__meta_kubernetes_endpoint_port_name"],
            "regex": endpoint["port"],
        },
        *(
            {
                "source_labels": target_kind_name,
                "separator": ";",
                "regex": f"{kind};(.*)",
                "replacement": "${1}",
                "target_label": label,
            }
            for kind, label in (("Node", "node"), ("Pod", "pod"))
        ),
        {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
        {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "service"},
        {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
        {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
        {
            "action": "drop",
            "source_labels": ["__meta_kubernetes_pod_phase"],
            "regex": "(Failed|Succeeded)",
        },
        {
            "source_labels": ["__meta_kubernetes_service_name"],
            "target_label": "job",
            "replacement": "${1}",
        },
    ]
    if spec.get("jobLabel"):
        relabel.append(
            {
                "source_labels": [
                    f"__meta_kubernetes_service_label_{_label_name(spec['jobLabel'])}"
                ],
                "target_label": "job",
                "regex": "(.+)",
                "replacement": "${1}",
            }
        )
    relabel.append({"target_label": "endpoint", "replacement": endpoint["port"]})
    relabel += [_relabel_config(rule) for rule in endpoint.get("relabelings", ())]
    job: dict[str, Any] = {
        "job_name": f"serviceMonitor/{metadata['namespace']}/{metadata['name']}/{index}",
        "honor_labels": bool(endpoint.get("honorLabels", False)),
        "static_configs": [{"targets": [address], "labels": labels} for address, labels in targets],
        "relabel_configs": relabel,
    }
    for field, key in (
        ("interval", "scrape_interval"),
        ("scrapeTimeout", "scrape_timeout"),
        ("path", "metrics_path"),
        ("scheme", "scheme"),
    ):
        if field in endpoint:
            job[key] = endpoint[field]
    if endpoint.get("metricRelabelings"):
        job["metric_relabel_configs"] = [
            _relabel_config(rule) for rule in endpoint["metricRelabelings"]
        ]
    return job
