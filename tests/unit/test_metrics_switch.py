"""LLM_GATEWAY_METRICS_ENABLED=false measures nothing; labelled children are reused."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from llm_gateway.app import create_app
from llm_gateway.completion import CompletionRequest
from llm_gateway.core import _Measurement
from llm_gateway.http_metrics import HttpMetricsMiddleware
from llm_gateway.logs import RequestLog
from llm_gateway.metrics import Endpoint, Metrics
from llm_gateway.settings import Settings


def test_metrics_off_has_no_metrics_route_and_no_http_metrics_middleware() -> None:
    registry = CollectorRegistry()
    app = create_app(Settings(metrics_enabled=False), registry=registry)

    assert all(m.cls is not HttpMetricsMiddleware for m in app.user_middleware)
    with TestClient(app) as client:
        assert client.get("/metrics").status_code == 404
        assert client.get("/healthz").status_code == 200
    assert list(registry.collect()) == []


def test_metrics_off_measurement_records_nothing_and_fails_nowhere() -> None:
    request = CompletionRequest(
        request_id="r1", endpoint=Endpoint.GENERATE, model="m", messages=[], stream=True
    )
    measurement = _Measurement(Metrics.disabled(), request, RequestLog(request_id="r1"))
    measurement.attempt("m")
    measurement.token()
    measurement.fail(RuntimeError("boom"))


def test_metrics_on_keeps_one_labelled_child_per_label_values() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)

    metrics.child("requests", "m", "generate", "false", "success").inc()
    metrics.child("requests", "m", "generate", "false", "success").inc()

    assert metrics.child("requests", "m", "generate", "false", "success") is (
        metrics.requests.labels("m", "generate", "false", "success")
    )
    labels = {"model": "m", "endpoint": "generate", "stream": "false", "outcome": "success"}
    assert registry.get_sample_value("llm_gateway_requests_total", labels) == 2
