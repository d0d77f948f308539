"""No gateway label may be named like a label the scrape sets on the target.

Prometheus sets `job` and `instance`; a Prometheus Operator ServiceMonitor job sets
`namespace`, `service`, `pod`, `container`, `endpoint` (and `node`) too. With
`honor_labels: false`, a series label of one of those names is renamed
`exported_<name>` and every query grouping by it groups by the target's label instead.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.parser import text_string_to_metric_families

from llm_gateway.app import create_app
from llm_gateway.metrics.definitions import LLM_METRICS
from llm_gateway.metrics.families.http import HTTP_METRICS
from llm_gateway.metrics.spec import TARGET_LABELS, MetricSpec
from llm_gateway.settings import Settings

SPECS = [*LLM_METRICS.values(), *HTTP_METRICS]


def test_the_reserved_names_are_every_target_label_prometheus_and_the_operator_set() -> None:
    expected = {"job", "instance", "namespace", "service", "pod", "container", "endpoint", "node"}
    assert expected == TARGET_LABELS


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
def test_no_metric_declares_a_label_named_like_a_target_label(spec: MetricSpec) -> None:
    assert not TARGET_LABELS.intersection(spec.labels), spec.labels


@pytest.mark.parametrize("label", sorted(TARGET_LABELS))
def test_a_metric_spec_with_a_target_label_name_is_refused(label: str) -> None:
    with pytest.raises(ValueError, match=f"would rename its labels \\['{label}'\\]"):
        MetricSpec("llm_gateway_x_total", Counter, "X.", ("model", label), "x", "x")


def test_the_api_door_the_upstream_and_its_base_url_have_labels_of_their_own() -> None:
    assert "api" in LLM_METRICS["requests"].labels
    assert LLM_METRICS["endpoint_requests"].labels == ("upstream", "upstream_url", "outcome")


def test_no_exposed_series_carries_a_target_label_name() -> None:
    """What /metrics really exposes, starlette-exporter's HTTP metrics included."""
    app = create_app(Settings(), registry=CollectorRegistry())
    with TestClient(app) as client:
        assert client.get("/v1/models").status_code == 200
        assert client.get("/no/such/path").status_code == 404
        exposition = client.get("/metrics")
    assert exposition.status_code == 200
    assert 'handler="/v1/models"' in exposition.text
    names = {
        label
        for family in text_string_to_metric_families(exposition.text)
        for sample in family.samples
        for label in sample.labels
    }
    assert {"handler", "status_code", "version"} <= names
    assert not names & TARGET_LABELS, names & TARGET_LABELS
