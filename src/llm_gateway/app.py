"""The app factory: ``create_app(settings)`` wires everything; nothing happens at import."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import REGISTRY, CollectorRegistry, disable_created_metrics, multiprocess
from starlette.middleware import Middleware
from starlette_exporter.optional_metrics import request_body_size, response_body_size

from llm_gateway import __version__
from llm_gateway.core.buckets import BucketStore
from llm_gateway.core.config import GatewayConfig
from llm_gateway.core.gateway import Gateway
from llm_gateway.core.redis_buckets import RedisBuckets
from llm_gateway.core.retry import Policy
from llm_gateway.core.tracing import NO_TRACER
from llm_gateway.core.types import ModelKind
from llm_gateway.http import handlers
from llm_gateway.http.access import QUIET_PATHS, AccessLogMiddleware
from llm_gateway.http.auth import ApiKeyMiddleware
from llm_gateway.http.body_limit import BodyLimitMiddleware
from llm_gateway.http.drain import Readiness, fail_readiness_on_sigterm
from llm_gateway.http.loop_lag import watch_event_loop_lag
from llm_gateway.logs import configure_logging
from llm_gateway.metrics.exposition import Exposition, WorkersExposition
from llm_gateway.metrics.http import HttpMetricsMiddleware
from llm_gateway.metrics.recorder import Recorder
from llm_gateway.metrics.spec import APP_NAME, HTTP_DURATION_BUCKETS, HTTP_PREFIX
from llm_gateway.routes import (
    chat,
    completions,
    deps,
    embeddings,
    generate,
    messages,
    metrics,
    responses,
    system,
)
from llm_gateway.routes.deps import Services
from llm_gateway.routing import RoutingTable, routing_table
from llm_gateway.settings import Settings, UpstreamApi
from llm_gateway.telemetry import from_environment
from llm_gateway.upstream.client import HuggingFaceUpstream
from llm_gateway.upstream.openai import OpenAIUpstream

logger = logging.getLogger("llm_gateway")

# Set by `serve --workers N` to a directory private to that gateway instance.
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


Adapter = HuggingFaceUpstream | OpenAIUpstream


def create_app(
    settings: Settings,
    registry: CollectorRegistry | None = None,
    *,
    table: RoutingTable | None = None,
    upstream: Adapter | None = None,
) -> FastAPI:
    """The gateway app. ``registry`` receives the LLM metrics (a fresh one by default);
    ``table`` is the routing table, read from the settings unless given; each of its
    upstreams gets an adapter of its kind with its own settings, unless ``upstream`` is
    given for the shorthand's one (tests give one a test network).

    With ``settings.metrics_enabled`` off, nothing is measured: no HTTP metrics middleware,
    no ``/metrics`` route, and a core whose every metric does nothing. Traces are on when
    the ``OTEL_*`` variables say so (:mod:`llm_gateway.telemetry`); off, the app has no
    trace middleware and the core a tracer that does nothing.
    """
    # The services, each built once: the metrics, the upstream, the core.
    disable_created_metrics()  # type: ignore[no-untyped-call]
    registry = registry if registry is not None else CollectorRegistry()
    recorder = Recorder(registry) if settings.metrics_enabled else Recorder.disabled()
    table = table if table is not None else routing_table(settings)
    upstream_settings = dict(table.upstream_settings(settings))
    if upstream is not None and len(upstream_settings) != 1:
        raise ValueError("an upstream adapter is given for a table of one upstream only")
    upstreams: dict[str, Adapter] = {
        name: _adapter(name, each, recorder) if upstream is None else upstream
        for name, each in upstream_settings.items()
    }
    described = {name: each.describe_upstream() for name, each in upstream_settings.items()}
    kinds = sorted({each.upstream_kind.value for each in upstream_settings.values()})
    config = gateway_config(settings, table)
    default = next((model.name for model in config.models if model.kind is ModelKind.CHAT), "")
    recorder.build_info(__version__, default, ",".join(kinds))
    tracing = from_environment(upstream_settings, os.environ)
    gateway = Gateway(
        config,
        upstreams,
        recorder,
        _shared_buckets(settings, recorder),
        tracing.tracer if tracing is not None else NO_TRACER,
    )
    services = Services(
        routes=config.models,
        upstreams=described,
        forwards_faults=any(each.upstream_is_simulator for each in upstream_settings.values()),
        gateway=gateway,
        readiness=Readiness(),
        exposition=_exposition(registry, recorder) if settings.metrics_enabled else None,
        created=int(time.time()),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for name, adapter in upstreams.items():
            await adapter.start()
            logger.info("upstream %s: serving completions from %s", name, described[name])
        logger.info("rate limits: %s", settings.describe_rate_limits())
        services.readiness.ready = True
        fail_readiness_on_sigterm(
            services.readiness,
            settings.shutdown_delay_seconds,
            settings.drain_seconds,
            gateway.cut_off,
        )
        lag = (
            asyncio.create_task(watch_event_loop_lag(recorder.event_loop_lag))
            if settings.metrics_enabled
            else None
        )
        try:
            yield
        finally:
            services.readiness.ready = False
            if lag is not None:
                lag.cancel()
            await gateway.close()
            for adapter in upstreams.values():
                await adapter.close()
            if tracing is not None:
                # Off the event loop: the last batch of spans is exported on the way out.
                await asyncio.to_thread(tracing.shutdown)
            if MULTIPROCESS_ENV in os.environ:
                # Drops this worker's live gauges (in flight) from the aggregate.
                multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]

    # The middleware, outermost first: the order each request passes through them. A
    # stream's messages between its first and its last go to the access middleware's own
    # send, past those beneath it (routes.stream_response): none of them may rewrite a
    # response's body.
    middleware = [Middleware(AccessLogMiddleware)]
    if tracing is not None:
        middleware.append(tracing.middleware)
    middleware.append(
        Middleware(
            BodyLimitMiddleware,
            max_body_bytes=settings.max_body_bytes,
            body_timeout_seconds=settings.request_body_timeout_seconds,
        )
    )
    if settings.metrics_enabled:
        middleware.append(
            Middleware(
                HttpMetricsMiddleware,  # type: ignore[arg-type]  # an untyped base class
                app_name=APP_NAME,
                prefix=HTTP_PREFIX,
                buckets=HTTP_DURATION_BUCKETS,
                skip_paths=sorted(QUIET_PATHS),
                optional_metrics=[request_body_size, response_body_size],
            )
        )
    if settings.api_keys:
        middleware.append(
            Middleware(
                ApiKeyMiddleware,
                digests=settings.api_keys,
                protect_metrics=settings.protect_metrics,
                metrics=recorder,
            )
        )
    app = FastAPI(
        title="llm-gateway",
        version=__version__,
        summary="An observable gateway to Mistral models on Hugging Face.",
        lifespan=lifespan,
        middleware=middleware,
        # The gateway's own spans and metrics describe each request. FastAPI's native
        # OpenTelemetry (0.165) would add its own from the global providers, and asks
        # whether they are configured on every request; older releases keep the argument
        # unused in `extra`.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    deps.install(app, services)
    # The doors, then the operations.
    for router in (
        generate.router,
        chat.router,
        completions.router,
        embeddings.router,
        messages.router,
        responses.router,
        system.router,
    ):
        app.include_router(router)
    if settings.metrics_enabled:
        app.include_router(metrics.router)
    handlers.install(app, settings.max_body_bytes)
    return app


# Passes of the cycle collector's middle generation between two full passes, at most
# (Python's default: 10). See serving_app.
FULL_PASS_THRESHOLD = 100


def serving_app(settings: Settings, table: RoutingTable | None = None) -> FastAPI:
    """The app of a process that serves it (``serve``, or each ``--workers`` process),
    with the heap built so far frozen.

    The modules, schemas, routes and services live as long as the process; the cycle
    collector's full passes walked them all (some 110,000 objects: 40-60 ms with the
    event loop standing still, every pass). ``gc.freeze`` moves them out of its way;
    what requests and streams make is collected as before. Not in :func:`create_app`:
    tests make many apps in one process.

    The full passes then come ten times as rarely (``FULL_PASS_THRESHOLD``). Python runs
    one when the objects that survived its younger passes since the last one number a
    quarter of those the last one kept; frozen, the heap that quarter was of is gone,
    and a full pass came every ten passes of the middle generation: every few seconds
    under load, each walking every open stream's objects (some 270 a stream: 42-60 ms
    with 250 streams open) to find nothing, as a stream leaves no reference cycle
    (tests/integration/test_stream_objects.py).
    """
    app = create_app(settings, table=table)
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_PASS_THRESHOLD)
    return app


def create_app_from_environment() -> FastAPI:
    """The factory each ``--workers`` process calls: settings come from the environment."""
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    return serving_app(settings)


def _exposition(registry: CollectorRegistry, recorder: Recorder) -> Exposition:
    """What ``/metrics`` exposes: this app's metrics and the process-wide ones.

    With several workers (``PROMETHEUS_MULTIPROC_DIR`` set), each scrape sums the
    workers' files instead.
    """
    if MULTIPROCESS_ENV in os.environ:
        return WorkersExposition(os.environ[MULTIPROCESS_ENV])
    registry.register(REGISTRY)
    return Exposition(registry, recorder.all, REGISTRY)


def _adapter(name: str, settings: Settings, recorder: Recorder) -> Adapter:
    """The adapter of the upstream ``name``, from its settings (the gateway's, with its
    entry's)."""
    if settings.upstream_api is UpstreamApi.OPENAI:
        return OpenAIUpstream(settings, recorder, name=name)
    return HuggingFaceUpstream(settings, recorder, name=name)


def gateway_config(settings: Settings, table: RoutingTable) -> GatewayConfig:
    """What the core reads of the settings and the routing table."""
    return GatewayConfig(
        models=table.routes(
            Policy(
                attempts=settings.retry_attempts,
                backoff_seconds=settings.retry_backoff_seconds,
                max_backoff_seconds=settings.retry_max_backoff_seconds,
            )
        ),
        max_prompt_chars=settings.max_prompt_chars,
        deadline_seconds=settings.request_deadline_seconds,
        max_concurrency=settings.max_concurrency,
        max_queue=settings.max_queue,
        queue_timeout_seconds=settings.queue_timeout_seconds,
        requests_per_minute=settings.rate_limit_requests_per_minute,
        tokens_per_minute=settings.rate_limit_tokens_per_minute,
        failure_mode=settings.rate_limit_failure_mode,
    )


def _shared_buckets(settings: Settings, metrics: Recorder) -> BucketStore | None:
    """Redis, when configured: the rate limits then hold across workers and replicas."""
    if settings.redis_url is None:
        return None
    password = settings.redis_password
    return RedisBuckets(
        settings.redis_url.get_secret_value(),
        password.get_secret_value() if password is not None else None,
        settings.redis_timeout_seconds,
        metrics,
    )
