"""The routes' dependencies: the app's services, typed, and each completion route's :class:`Call`.

``create_app`` builds every service once and sets them on the app once, as one typed
:class:`Services` (:func:`install`); routes reach them through typed dependencies
(``CallDep``, ``ServicesDep``, ``ExpositionDep``), never through ``app.state``.

``async def``: FastAPI runs a plain ``def`` dependency in a thread pool, a thread hop
per dependency per request for what are attribute lookups.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Request

from llm_gateway.core.gateway import Gateway
from llm_gateway.core.measurement import Summary
from llm_gateway.core.relay import Relay
from llm_gateway.core.routing import ModelRoute
from llm_gateway.core.types import (
    Completion,
    CompletionTask,
    Embeddings,
    EmbeddingTask,
    Origin,
)
from llm_gateway.errors import ValidationFailed
from llm_gateway.faults import MAX_FAULT_TIMES, FaultRequest, UnknownFaultError
from llm_gateway.http.context import RequestContext
from llm_gateway.http.disconnect import unless_disconnected
from llm_gateway.http.drain import Readiness
from llm_gateway.metrics.exposition import Exposition


@dataclass(frozen=True, slots=True)
class Services:
    """What the routes use, each built once by ``create_app``."""

    # The routing table's models, and a log-safe description of each upstream by name.
    routes: Sequence[ModelRoute]
    upstreams: Mapping[str, str]
    # Some upstream is the simulator: X-Simulator-* headers are then forwarded (to it only).
    forwards_faults: bool
    gateway: Gateway
    readiness: Readiness
    # What /metrics renders; None with metrics off (then /metrics is not routed).
    exposition: Exposition | None
    # The models' `created`: when this gateway began serving them.
    created: int


def install(app: FastAPI, services: Services) -> None:
    app.state.services = services


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def get_services(request: Request) -> Services:
    return services_of(request)


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_exposition(services: ServicesDep) -> Exposition:
    assert services.exposition is not None, "/metrics is routed only with metrics on"
    return services.exposition


ExpositionDep = Annotated[Exposition, Depends(get_exposition)]


@dataclass(slots=True)
class Call:
    """What a completion route needs besides its body: the core, who asked (``origin``:
    the request id, the caller's API key alias, the X-Simulator-* headers it sent), the
    core's summary of the request for the access line, and the HTTP request itself,
    watched for the client leaving."""

    gateway: Gateway
    origin: Origin
    summary: Summary
    http: Request

    async def complete(self, request: CompletionTask) -> Completion:
        return await unless_disconnected(self.http, self.gateway.complete(request, self.summary))

    async def embed(self, request: EmbeddingTask) -> Embeddings:
        return await unless_disconnected(self.http, self.gateway.embed(request, self.summary))

    async def stream(self, request: CompletionTask) -> Relay:
        # Until the first chunk; from then on the streaming response watches the client.
        return await unless_disconnected(self.http, self.gateway.stream(request, self.summary))


def stop_sequences(stop: str | list[str] | None) -> list[str] | None:
    """The stop sequences as a list, as the core takes them (clients may send one string),
    without empty ones: OpenAI's schema allows them, and they would stop nothing."""
    sequences = [stop] if isinstance(stop, str) else stop or []
    return [sequence for sequence in sequences if sequence] or None


def simulator_headers(request: Request) -> dict[str, str]:
    """The X-Simulator-* headers a request sent, checked: read only when some upstream is
    the simulator (to any other, nothing is sent). OpenAPI documents them on each route
    (``routes.openapi.SIMULATOR_HEADERS``): declared as header parameters, FastAPI would
    validate them on every request, simulator or not."""
    headers = {k: v for k, v in request.headers.items() if k.startswith("x-simulator-")}
    try:
        asked = FaultRequest.from_headers(headers)
    except UnknownFaultError as exc:
        raise ValidationFailed(str(exc), code="invalid_body", param=exc.header) from None
    if asked.times is not None and asked.times > MAX_FAULT_TIMES:
        raise ValidationFailed(
            f"X-Simulator-Fault-Times is at most {MAX_FAULT_TIMES}.",
            code="invalid_body",
            param="X-Simulator-Fault-Times",
        )
    return headers


async def get_call(request: Request) -> Call:
    # One dependency reading the app's services itself: FastAPI solves each nested
    # dependency per request, and this one runs on every completion.
    services = services_of(request)
    context = RequestContext.of(request.scope)
    context.summary = summary = Summary(arrived=context.arrived)
    headers = simulator_headers(request) if services.forwards_faults else {}
    return Call(
        gateway=services.gateway,
        origin=Origin(context.request_id, context.client, headers),
        summary=summary,
        http=request,
    )


CallDep = Annotated[Call, Depends(get_call)]
