"""The ceiling: a bare FastAPI endpoint that reads the body and returns a fixed completion.

It is what a gateway cannot beat on this machine with this server stack (uvicorn with
uvloop and httptools, FastAPI routing). ``--exporter`` adds the gateway's HTTP metrics
middleware (starlette-exporter's metrics, ``llm_gateway.metrics.http``) configured exactly
as the gateway configures it, which prices the HTTP metrics on their own.

    python bench/ceiling.py --port 8090 [--exporter]
"""

from __future__ import annotations

import argparse

import uvicorn
from fastapi import FastAPI, Request, Response
from starlette_exporter import handle_metrics
from starlette_exporter.optional_metrics import request_body_size, response_body_size

from llm_gateway.http.access import QUIET_PATHS
from llm_gateway.metrics.http import HttpMetricsMiddleware
from llm_gateway.metrics.spec import APP_NAME, HTTP_DURATION_BUCKETS, HTTP_PREFIX

# A simulator answer to the benchmark's prompt, 32 tokens, as the gateway renders it.
COMPLETION = (
    b'{"id":"chatcmpl-0123456789abcdef0123456789abcdef","object":"chat.completion",'
    b'"created":1795723193,"model":"mistralai/Mistral-7B-Instruct-v0.3","choices":[{"index":0,'
    b'"message":{"role":"assistant","content":"Route start, learn, an to steady models each '
    b"histogram client by of more. Dashboard metrics stream node upstream day prompt warm "
    b'response with as. Hour with value throughput"},"finish_reason":"length"}],'
    b'"usage":{"prompt_tokens":6,"completion_tokens":32,"total_tokens":38}}'
)


def create_app(*, exporter: bool) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        await request.body()
        return Response(COMPLETION, media_type="application/json")

    @app.get("/healthz")
    async def healthz() -> Response:
        return Response(b"ok")

    if exporter:
        # The gateway's own options (src/llm_gateway/app.py), so the cost is the same.
        app.add_middleware(
            HttpMetricsMiddleware,
            app_name=APP_NAME,
            prefix=HTTP_PREFIX,
            buckets=HTTP_DURATION_BUCKETS,
            skip_paths=sorted(QUIET_PATHS),
            optional_metrics=[request_body_size, response_body_size],
        )
        app.add_route("/metrics", handle_metrics)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--exporter", action="store_true")
    args = parser.parse_args()
    uvicorn.run(
        create_app(exporter=args.exporter),
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
