"""The fast exposition gives prometheus_client's own bytes, in every format it covers."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Summary, disable_created_metrics
from prometheus_client.exposition import choose_encoder

from llm_gateway.metrics import Metrics
from llm_gateway.scrape import Exposition

COVERED = 7  # the first ACCEPTS, rendered here; the others go to prometheus_client
ACCEPTS = [
    "",
    "text/plain;version=0.0.4",
    "application/openmetrics-text;version=1.0.0",
    "application/openmetrics-text; version=1.0.0; charset=utf-8",
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,"
    "application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;"
    "escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
    "text/plain;version=1.0.0;escaping=allow-utf-8",
    "application/openmetrics-text;version=0.0.1",  # prometheus_client answers in text
    "text/plain;version=1.0.0;escaping=values",
]
ODD = 'quote " back \\ newline \n ünï ✓'


def populated() -> tuple[CollectorRegistry, Metrics, CollectorRegistry]:
    """The gateway's metrics with series of every kind, exemplars and odd label values."""
    disable_created_metrics()  # as create_app does
    everything = CollectorRegistry()
    metrics = Metrics(everything)
    for model in ("m1", ODD):
        for outcome in ("success", "error"):
            metrics.child("requests", model, "generate", "false", outcome).inc(3)
            metrics.child("request_duration", model, "generate", "true", outcome).observe(
                0.3, {"request_id": f"r-{model}"}
            )
            metrics.child("request_duration", model, "generate", "true", outcome).observe(7.5)
        metrics.child("upstream_in_flight", model).inc()
        metrics.child("tokens_per_request", model, "generate", "prompt").observe(12)
    metrics.queue_wait.observe(0.002)
    metrics.queued.set(2)
    metrics.build_info.labels("1.0", "m1", "simulator").set(1)
    rest = CollectorRegistry()
    Counter("http_requests", "HTTP requests.", ["handler"], registry=rest).labels("/x").inc()
    Gauge("process_thing", "A process-wide gauge.", registry=rest).set(1.5)
    everything.register(rest)
    return everything, metrics, rest


@pytest.mark.parametrize("accept", ACCEPTS)
def test_exposition_is_byte_for_byte_prometheus_clients(accept: str) -> None:
    covered = ACCEPTS.index(accept) < COVERED
    everything, metrics, rest = populated()
    exposition = Exposition(everything, metrics.all, rest)
    encode, content_type = choose_encoder(accept)

    body, rendered_type = exposition.render(accept)

    assert rendered_type == content_type
    assert body.decode() == encode(everything).decode()
    assert bool(exposition._lines) is covered
    # Twice: the second scrape comes from the kept lines, after values moved.
    metrics.child("requests", "m1", "generate", "false", "success").inc()
    metrics.child("request_duration", ODD, "generate", "true", "error").observe(0.01)
    assert exposition.render(accept)[0].decode() == encode(everything).decode()


def test_a_kind_it_does_not_cover_goes_to_prometheus_client() -> None:
    everything = CollectorRegistry()
    summary = Summary("llm_gateway_odd_seconds", "A summary.", ["model"], registry=everything)
    summary.labels("m").observe(1)
    exposition = Exposition(everything, [summary], CollectorRegistry())

    body, _ = exposition.render("")

    assert body == choose_encoder("")[0](everything)
