"""An OTLP/HTTP trace sink: accepts ``POST /v1/traces``, counts the spans, answers at once.

The collector a traced gateway exports to in the benchmark (on the load core, like the
simulator), so the exporter's work is real: spans batched, encoded as protobuf and sent
over loopback. ``GET /healthz`` answers the readiness check; ``GET /spans`` the count.

    python bench/otlp_sink.py --port 4318
"""

from __future__ import annotations

import argparse

import uvicorn
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

ANSWER = ExportTraceServiceResponse().SerializeToString()


def create_app() -> Starlette:
    received = [0]

    async def traces(request: Request) -> Response:
        export = ExportTraceServiceRequest.FromString(await request.body())
        received[0] += sum(
            len(scope.spans) for spans in export.resource_spans for scope in spans.scope_spans
        )
        return Response(ANSWER, media_type="application/x-protobuf")

    async def spans(request: Request) -> Response:
        return PlainTextResponse(str(received[0]))

    return Starlette(
        routes=[
            Route("/v1/traces", traces, methods=["POST"]),
            Route("/spans", spans),
            Route("/healthz", spans),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(create_app(), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
