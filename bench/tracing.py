"""What traces cost per request, measured in one process, without HTTP's noise.

    python bench/tracing.py [--requests 20000] [--rounds 5] [--ratio 0.1]

Runs exactly the tracing work of one traced request, N times: the request's SERVER span
(``telemetry.middleware``, continuing a client's ``traceparent``), one attempt through
the core's ``Measurement`` (its CLIENT span with the GenAI attributes, the
``traceparent`` injected for the upstream, the first-token event, usage and finish
reasons), the trace id read for the exemplars; then the batch processor's export over
OTLP/HTTP to ``otlp_sink.py`` on loopback, flushed inside the measured window. The same
loop with traces off (no middleware, the no-op tracer) is the baseline. CPU time is the
process's (every thread: the exporter's included), so the difference is what tracing
adds per request at 100 % sampling; the event loop's thread's share of it is shown too
(spans are made and encoded there; the batch processor's thread frames and posts).
With ``--ratio``, a ``traceidratio`` sampler keeps that share of new traces (the requests
then carry no client ``traceparent``).
``run.py``'s ``gateway_traced`` target measures the same through the whole server, where
a loaded machine's noise can hide it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import urllib.request
from typing import Any
from unittest import mock

import run

import servers
from llm_gateway.core.measurement import Measurement, Summary
from llm_gateway.core.tracing import NO_TRACER, Tracer, upstream_headers
from llm_gateway.core.types import CompletionTask, Endpoint, Origin, TokenUsage
from llm_gateway.http.context import RequestContext
from llm_gateway.metrics.recorder import Recorder
from llm_gateway.ports import free_port
from llm_gateway.settings import Settings
from llm_gateway.telemetry.setup import Tracing

MODEL = "mistralai/Mistral-7B-Instruct-v0.3"
TRACEPARENT = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


async def requests(
    count: int, tracer: Tracer, middleware: Any | None, client_context: bool = True
) -> None:
    metrics = Recorder.disabled()

    async def core(scope: Any, receive: Any, send: Any) -> None:
        request = CompletionTask(
            origin=Origin(scope["llm_gateway.context"].request_id),
            endpoint=Endpoint.CHAT_COMPLETIONS,
            model=MODEL,
            max_tokens=32,
            temperature=0.7,
        )
        measurement = Measurement(metrics, request, MODEL, Summary(0.0), tracer=tracer)
        measurement.attempt(MODEL)
        headers = {"X-Request-Id": request.request_id, **upstream_headers()}
        assert headers
        measurement.token()
        measurement.succeed(TokenUsage(6, 32), 0, ["length"], "chatcmpl-1")

    app = core if middleware is None else middleware.cls(core, **middleware.kwargs)
    for number in range(count):
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/v1/chat/completions",
            "scheme": "http",
            "headers": [(b"traceparent", TRACEPARENT)] if client_context else [],
        }
        context = RequestContext(request_id=f"bench-{number}", status=200)
        context.attach(scope)
        await app(scope, None, None)


def measure(
    count: int, tracing: Tracing | None, client_context: bool = True
) -> tuple[float, float]:
    """CPU milliseconds per request, the export included, and the share of them the event
    loop's thread spent (the rest: the batch processor's thread, exporting)."""
    started, loop_started = time.process_time(), time.thread_time()
    if tracing is None:
        asyncio.run(requests(count, NO_TRACER, None))
    else:
        asyncio.run(requests(count, tracing.tracer, tracing.middleware, client_context))
        tracing.provider.force_flush()
    loop = (time.thread_time() - loop_started) * 1000 / count
    return (time.process_time() - started) * 1000 / count, loop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ratio", type=float, default=None, help="sample this share only")
    args = parser.parse_args()
    run.OUT.mkdir(exist_ok=True)
    port = free_port()
    sink = servers.start(
        "otlp_sink",
        [sys.executable, str(run.HERE / "otlp_sink.py"), "--port", str(port)],
        port=port, ready_path="/healthz", log_dir=run.OUT, core=run.LOAD_CORE,
    )  # fmt: skip
    environ = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": sink.url,
        "OTEL_TRACES_SAMPLER": "always_on" if args.ratio is None else "traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "" if args.ratio is None else str(args.ratio),
        # As many spans a batch as the queue holds, so none is dropped at this rate.
        "OTEL_BSP_MAX_QUEUE_SIZE": str(4 * args.requests),
    }
    try:
        # The SDK reads the OTEL_* variables while the provider is built.
        with mock.patch.dict(os.environ, environ):
            tracing = Tracing.build({"default": Settings(upstream_url=[sink.url])}, environ)
        off: list[tuple[float, float]] = []
        on: list[tuple[float, float]] = []
        for _ in range(args.rounds):
            off.append(measure(args.requests, None))
            on.append(measure(args.requests, tracing, client_context=args.ratio is None))
        tracing.shutdown()
        with urllib.request.urlopen(sink.url + "/spans", timeout=10) as received:
            spans = int(received.read())
        added = [b[0] - a[0] for a, b in zip(off, on, strict=True)]
        in_loop = statistics.median(b[1] - a[1] for a, b in zip(off, on, strict=True))
        median_off, median_on = (statistics.median(t for t, _ in x) for x in (off, on))
        say(f"off  {median_off:.4f} ms CPU/request (median of {args.rounds})")
        sampled = "every request" if args.ratio is None else f"{args.ratio:.0%} of requests"
        say(f"on   {median_on:.4f} ms CPU/request, 2 spans, {sampled} sampled")
        spread = f"min {min(added):.4f}, max {max(added):.4f}"
        median = statistics.median(added)
        say(f"added {median:.4f} ms CPU/request ({spread}); the sink got {spans} spans")
        say(f"      of which {in_loop:.4f} ms in the event loop's thread, the rest exporting")
    finally:
        sink.stop()


if __name__ == "__main__":
    main()
