"""The app factory: ``create_app(settings)`` wires everything; nothing happens at import."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import REGISTRY, CollectorRegistry, disable_created_metrics, multiprocess
from starlette_exporter.optional_metrics import request_body_size, response_body_size

from llm_gateway import __version__
from llm_gateway.core.gateway import Gateway
from llm_gateway.core.upstream import Upstream
from llm_gateway.http import handlers
from llm_gateway.http.access import QUIET_PATHS, AccessLogMiddleware
from llm_gateway.http.auth import ApiKeyMiddleware
from llm_gateway.http.body_limit import BodyLimitMiddleware
from llm_gateway.http.drain import fail_readiness_on_sigterm
from llm_gateway.logs import configure_logging
from llm_gateway.metrics.definitions import APP_NAME, HTTP_DURATION_BUCKETS, HTTP_PREFIX
from llm_gateway.metrics.exposition import Exposition, WorkersExposition
from llm_gateway.metrics.http import HttpMetricsMiddleware
from llm_gateway.metrics.recorder import Recorder
from llm_gateway.routes import (
    chat,
    completions,
    embeddings,
    generate,
    messages,
    metrics,
    system,
)
from llm_gateway.settings import Settings, UpstreamApi
from llm_gateway.upstream.client import Upstream as HuggingFaceUpstream
from llm_gateway.upstream.openai import OpenAIUpstream

logger = logging.getLogger("llm_gateway")

# Set by `serve --workers N` to a directory private to that gateway instance.
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


def create_app(
    settings: Settings,
    registry: CollectorRegistry | None = None,
    *,
    upstream: Upstream | None = None,
) -> FastAPI:
    """The gateway app. ``registry`` receives the LLM metrics (a fresh one by default);
    ``upstream`` is built from the settings unless given (tests give one a test network).

    With ``settings.metrics_enabled`` off, nothing is measured: no HTTP metrics middleware,
    no ``/metrics`` route, and a core whose every metric does nothing.
    """
    disable_created_metrics()  # type: ignore[no-untyped-call]
    registry = registry if registry is not None else CollectorRegistry()
    recorder = Recorder(registry) if settings.metrics_enabled else Recorder.disabled()
    recorder.build_info(__version__, settings.default_model, settings.upstream_kind)
    if upstream is None:
        upstream = (
            OpenAIUpstream(settings, recorder)
            if settings.upstream_api is UpstreamApi.OPENAI
            else HuggingFaceUpstream(settings, recorder)
        )
    gateway = Gateway(settings, upstream, recorder)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await upstream.start()
        logger.info("serving completions from %s", settings.describe_upstream())
        logger.info("rate limits: %s", settings.describe_rate_limits())
        app.state.ready = True
        fail_readiness_on_sigterm(
            app, settings.shutdown_delay_seconds, settings.drain_seconds, gateway.cut_off
        )
        try:
            yield
        finally:
            app.state.ready = False
            await gateway.close()
            await upstream.close()
            if MULTIPROCESS_ENV in os.environ:
                # Drops this worker's live gauges (in flight) from the aggregate.
                multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]

    app = FastAPI(
        title="llm-gateway",
        version=__version__,
        summary="An observable gateway to Mistral models on Hugging Face.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    # The models' `created`: when this gateway began serving them.
    app.state.created = int(time.time())
    app.state.gateway = gateway = Gateway(settings, upstream, recorder)
    app.state.ready = False
    for router in (
        generate.router,
        chat.router,
        completions.router,
        embeddings.router,
        messages.router,
        system.router,
    ):
        app.include_router(router)
    if settings.metrics_enabled:
        app.state.exposition = _exposition(registry, recorder)
        app.include_router(metrics.router)
    handlers.install(app, settings.max_body_bytes)
    if settings.api_keys:
        app.add_middleware(
            ApiKeyMiddleware,
            digests=settings.api_keys,
            protect_metrics=settings.protect_metrics,
            metrics=recorder,
        )
    if settings.metrics_enabled:
        app.add_middleware(
            HttpMetricsMiddleware,  # type: ignore[arg-type]  # an untyped base class
            app_name=APP_NAME,
            prefix=HTTP_PREFIX,
            buckets=HTTP_DURATION_BUCKETS,
            skip_paths=sorted(QUIET_PATHS),
            optional_metrics=[request_body_size, response_body_size],
        )
    app.add_middleware(
        BodyLimitMiddleware,
        max_body_bytes=settings.max_body_bytes,
        body_timeout_seconds=settings.request_body_timeout_seconds,
    )
    app.add_middleware(AccessLogMiddleware)
    return app


def create_app_from_environment() -> FastAPI:
    """The factory each ``--workers`` process calls: settings come from the environment."""
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)


def _exposition(registry: CollectorRegistry, recorder: Recorder) -> Exposition:
    """What ``/metrics`` exposes: this app's metrics and the process-wide ones.

    With several workers (``PROMETHEUS_MULTIPROC_DIR`` set), each scrape sums the
    workers' files instead.
    """
    if MULTIPROCESS_ENV in os.environ:
        return WorkersExposition(os.environ[MULTIPROCESS_ENV])
    registry.register(REGISTRY)
    return Exposition(registry, recorder.all, REGISTRY)
