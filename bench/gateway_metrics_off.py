"""The gateway with every metric taken out, built by the benchmark (the gateway has no switch).

It calls the real ``create_app``, then drops starlette-exporter from the middleware list
and hands the core a metrics object whose every call does nothing. The difference between
this and the real gateway is what all metrics together cost per request. It reaches into
``app.state.gateway._metrics``, a private attribute: if the core changes shape, this
script says so and exits rather than measure something else.

    LLM_GATEWAY_UPSTREAM_URL=... python bench/gateway_metrics_off.py --port 8091
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import uvicorn
from starlette_exporter import PrometheusMiddleware

from llm_gateway.app import create_app
from llm_gateway.logs import configure_logging
from llm_gateway.settings import Settings


class _Nothing:
    """Stands for any metric, or any labelled child of one: every call does nothing."""

    def labels(self, *args: Any, **kwargs: Any) -> _Nothing:
        return self

    def inc(self, *args: Any, **kwargs: Any) -> None:
        return None

    dec = set = observe = inc


class _NoMetrics:
    def __getattr__(self, name: str) -> _Nothing:
        return _Nothing()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    settings = Settings(port=args.port)
    configure_logging(settings.log_level, settings.log_format)
    app = create_app(settings)
    before = len(app.user_middleware)
    app.user_middleware = [m for m in app.user_middleware if m.cls is not PrometheusMiddleware]
    gateway = app.state.gateway
    if len(app.user_middleware) != before - 1 or not hasattr(gateway, "_metrics"):
        sys.exit("gateway_metrics_off: the app no longer has the expected shape")
    gateway._metrics = _NoMetrics()
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=settings.drain_seconds or None,
    )


if __name__ == "__main__":
    main()
