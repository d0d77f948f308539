"""LLM_GATEWAY_METRICS_ENABLED=false measures nothing; on, each request lands on its series."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from llm_gateway.app import create_app
from llm_gateway.core.measurement import Measurement, Summary
from llm_gateway.core.types import CompletionTask, Endpoint, Origin, Outcome
from llm_gateway.metrics.http import HttpMetricsMiddleware
from llm_gateway.metrics.recorder import Recorder
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
    request = CompletionTask(
        origin=Origin("r1"), endpoint=Endpoint.GENERATE, model="m", messages=[], stream=True
    )
    measurement = Measurement(Recorder.disabled(), request, "m", Summary(arrived=0.0))
    measurement.attempt("m")
    measurement.token()
    measurement.fail(RuntimeError("boom"))


def test_metrics_on_records_each_request_on_its_labelled_series() -> None:
    registry = CollectorRegistry()
    recorder = Recorder(registry)

    for _ in range(2):
        recorder.request_finished(
            "m", Endpoint.GENERATE, False, Outcome.SUCCESS, 0.1, {"request_id": "r1"}
        )

    labels = {"model": "m", "api": "generate", "stream": "false", "outcome": "success"}
    assert registry.get_sample_value("llm_gateway_requests_total", labels) == 2


def test_every_models_circuit_series_exist_from_startup_closed_and_never_opened() -> None:
    registry = CollectorRegistry()
    app = create_app(Settings(), registry=registry)
    models = [route.name for route in app.state.services.routes]

    assert len(models) > 1
    for model in models:
        assert registry.get_sample_value("llm_gateway_circuit_open", {"model": model}) == 0
        assert registry.get_sample_value("llm_gateway_circuit_opened_total", {"model": model}) == 0
