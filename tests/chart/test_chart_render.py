"""The chart lints, renders with every values file, and renders only valid objects.

Built-in kinds are checked against the Kubernetes OpenAPI schemas (kubernetes-validate,
strict: unknown fields are errors). ServiceMonitor and PrometheusRule are checked
against the monitoring.coreos.com/v1 models of cloudcoil-models-prometheus-operator,
generated from the prometheus-operator CRDs; pydantic drops unknown fields silently,
so a field lost in the round trip counts as an unknown field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from cloudcoil.models.prometheus_operator import v1 as monitoring_v1

from tests.chart.conftest import RELEASE, REPO, VALUES_CASES, Chart, Rendered

KUBERNETES_VERSION = "1.33.0"
CRD_MODELS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): monitoring_v1.ServiceMonitor,
    ("monitoring.coreos.com/v1", "PrometheusRule"): monitoring_v1.PrometheusRule,
}
RECOMMENDED_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/component",
    "helm.sh/chart",
)
CASES = sorted(VALUES_CASES)


def validate_custom_resource(obj: dict[str, Any]) -> None:
    model = CRD_MODELS[(obj["apiVersion"], obj["kind"])]
    parsed = model.model_validate(obj)
    round_trip = parsed.model_dump(mode="json", by_alias=True, exclude_unset=True)
    assert round_trip == obj, f"{obj['kind']} has fields unknown to monitoring.coreos.com/v1"


def validate(obj: dict[str, Any]) -> None:
    if (obj["apiVersion"], obj["kind"]) in CRD_MODELS:
        validate_custom_resource(obj)
    else:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def own_objects(rendered: Rendered) -> list[dict[str, Any]]:
    """Objects of this chart, not of the kube-prometheus-stack stand-in."""
    return [
        o
        for o in rendered.objects
        if o["metadata"].get("labels", {}).get("helm.sh/chart", "").startswith("llm-monitor-")
    ]


@pytest.mark.parametrize("major", ["v3", "v4"])
@pytest.mark.parametrize("case", CASES)
def test_helm_lint_strict_passes(helms: dict[str, Chart], case: str, major: str) -> None:
    helm = helms[major]
    args = ["lint", "--strict", str(helm.path), "--namespace", "llm"]
    for path in VALUES_CASES[case]:
        args += ["--values", str(path)]
    result = helm.run(*args)
    assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("case", CASES)
def test_every_rendered_object_is_valid(render, case: str) -> None:
    rendered = render(*VALUES_CASES[case])
    assert rendered.objects
    for obj in rendered.objects:
        validate(obj)


@pytest.mark.parametrize("case", CASES)
def test_every_object_carries_the_recommended_labels(render, case: str) -> None:
    rendered = render(*VALUES_CASES[case])
    objects = own_objects(rendered)
    assert {o["kind"] for o in objects} >= {"Deployment", "Service", "ConfigMap"}
    for obj in objects:
        labels = obj["metadata"]["labels"]
        missing = [label for label in RECOMMENDED_LABELS if label not in labels]
        assert not missing, f"{obj['kind']}/{obj['metadata']['name']} lacks {missing}"
        assert labels["app.kubernetes.io/instance"] == RELEASE


def test_validation_rejects_an_unknown_field_in_a_custom_resource(render) -> None:
    monitor = render().one("ServiceMonitor")
    broken = {**monitor, "spec": {**monitor["spec"], "endpoint": []}}
    with pytest.raises(AssertionError, match="unknown"):
        validate_custom_resource(broken)


def test_validation_rejects_an_unknown_field_in_a_builtin_kind(render) -> None:
    service = render().one("Service")
    broken = {**service, "spec": {**service["spec"], "selectors": {}}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_every_ci_values_file_is_rendered() -> None:
    # One values file per toggle, found by glob: a new file is tested without listing it.
    assert {"all-optional-off", "app-only", "simulator"} <= set(VALUES_CASES)
    assert Path(REPO / "values-minikube.yaml") in VALUES_CASES["minikube"]
