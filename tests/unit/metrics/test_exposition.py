"""The fast exposition gives prometheus_client's own bytes, in every format it covers."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Summary, disable_created_metrics
from prometheus_client.exposition import choose_encoder
from prometheus_client.samples import Sample

from llm_gateway.core.types import Endpoint, Outcome, TokenUsage
from llm_gateway.metrics.exposition import Exposition
from llm_gateway.metrics.recorder import Recorder

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


def populated() -> tuple[CollectorRegistry, Recorder, CollectorRegistry]:
    """The gateway's metrics with series of every kind, exemplars and odd label values."""
    disable_created_metrics()  # as create_app does
    everything = CollectorRegistry()
    metrics = Recorder(everything)
    for model in ("m1", ODD):
        for outcome in (Outcome.SUCCESS, Outcome.ERROR):
            for seconds in (0.3, 0.3, 7.5):
                metrics.request_finished(
                    model, Endpoint.GENERATE, True, outcome, seconds, {"request_id": f"r-{model}"}
                )
            metrics.output_token_interval(model, Endpoint.GENERATE, 0.05)
        metrics.attempt_started(model)
        metrics.tokens_used(model, Endpoint.GENERATE, TokenUsage(12, 3))
    for _ in range(3):
        metrics.queue_entered()
    metrics.queue_left(0.002)
    metrics.build_info("1.0", "m1", "simulator")
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
    assert bool(exposition.prepared_series) is covered
    # Twice: the second scrape comes from the kept lines, after values moved.
    metrics.request_finished(
        "m1", Endpoint.GENERATE, True, Outcome.SUCCESS, 0.01, {"request_id": "r-2"}
    )
    metrics.request_finished(
        ODD, Endpoint.GENERATE, True, Outcome.ERROR, 0.01, {"request_id": "r-3"}
    )
    assert exposition.render(accept)[0].decode() == encode(everything).decode()


def test_a_kind_it_does_not_cover_goes_to_prometheus_client() -> None:
    everything = CollectorRegistry()
    summary = Summary("llm_gateway_odd_seconds", "A summary.", ["model"], registry=everything)
    summary.labels("m").observe(1)
    exposition = Exposition(everything, [summary], CollectorRegistry())

    body, _ = exposition.render("")

    assert body == choose_encoder("")[0](everything)


def test_without_the_internals_it_reads_it_renders_through_prometheus_client(
    caplog: pytest.LogCaptureFixture,
) -> None:
    everything, metrics, rest = populated()
    exposition = Exposition(everything, metrics.all, rest)
    exposition.render("")
    # A prometheus_client whose counter children keep their value under another name:
    # its own rendering follows the rename, the fast renderer cannot.
    counter = next(m for m in metrics.all if m._name == "llm_gateway_requests")
    for child in counter._metrics.values():
        child.renamed_value = child.__dict__.pop("_value")
        child._child_samples = _samples_of(child)

    for _ in range(2):
        body, _content_type = exposition.render("")
        assert body == choose_encoder("")[0](everything)

    assert exposition.prepared_series == 0
    warnings = [r for r in caplog.records if "generate_latest" in r.getMessage()]
    assert len(warnings) == 1


def _samples_of(child: Any) -> Any:
    def samples() -> tuple[Sample, ...]:
        return (Sample("_total", {}, child.renamed_value.get(), None, None),)

    return samples
