"""The lean HTTP metrics path, and starlette-exporter's stock path when it cannot run."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY, CollectorRegistry
from starlette_exporter import PrometheusMiddleware

from llm_gateway.app import create_app
from llm_gateway.settings import Settings


def requests_counted(handler: str, status: str) -> float:
    labels = {
        "method": "GET",
        "path": handler,
        "status_code": status,
        "app_name": "llm-gateway",
        "handler": handler,
    }
    return REGISTRY.get_sample_value("http_requests_total", labels) or 0.0


@pytest.mark.parametrize("lean", [True, False], ids=["lean", "stock"])
def test_requests_are_counted_by_route_template_on_either_path(
    lean: bool, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    if not lean:
        # A starlette-exporter without the request-body metric object the lean path reads.
        monkeypatch.setattr(PrometheusMiddleware, "request_body_size_count", None)
    app = create_app(Settings(), registry=CollectorRegistry())
    before = requests_counted("/v1/models", "200"), requests_counted("__unknown__", "404")

    with TestClient(app) as client:
        assert client.get("/v1/models").status_code == 200
        assert client.get("/no/such/path").status_code == 404
        assert client.get("/healthz").status_code == 200

    after = requests_counted("/v1/models", "200"), requests_counted("__unknown__", "404")
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1)
    assert requests_counted("/healthz", "200") == 0
    warnings = [r for r in caplog.records if "stock per-request path" in r.getMessage()]
    assert len(warnings) == (0 if lean else 1)
