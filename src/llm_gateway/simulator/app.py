"""The simulator's app factory: routes of every dialect (OpenAI's chat, completions and
embeddings, TGI, TEI) over one shared simulation, and what it was asked
(``GET /simulator/requests/{request_id}``)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from llm_gateway.simulator.openai_api import OpenAIRoutes, error_response
from llm_gateway.simulator.openai_text import OpenAITextRoutes
from llm_gateway.simulator.responses import ConnectionDropped
from llm_gateway.simulator.settings import SimulatorSettings
from llm_gateway.simulator.simulation import Simulation
from llm_gateway.simulator.tei_api import TEIRoutes, is_embedding
from llm_gateway.simulator.tgi_api import TGIRoutes


class HideDroppedConnections(logging.Filter):
    """uvicorn logs every exception escaping the app with a traceback; a drop is no error,
    the simulator's own (a fault) or the client's (gone while its body was read)."""

    def filter(self, record: logging.LogRecord) -> bool:
        dropped = (ConnectionDropped, ClientDisconnect)
        return record.exc_info is None or not isinstance(record.exc_info[1], dropped)


def _hide_dropped_connections() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(existing, HideDroppedConnections) for existing in logger.filters):
        logger.addFilter(HideDroppedConnections())


@asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    # At startup rather than in create_app: uvicorn configures its loggers before starting
    # the app, and building an app should not touch global logging.
    _hide_dropped_connections()
    yield


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, exc.detail, "invalid_request_error", None)


def create_app(settings: SimulatorSettings) -> Starlette:
    simulation = Simulation.from_settings(settings)
    tgi, tei = TGIRoutes(simulation), TEIRoutes(simulation)

    async def root(request: Request) -> Response:
        # TGI's compat route and TEI's share the base URL InferenceClient posts to.
        if is_embedding(await request.body()):
            return await tei.embed(request)
        return await tgi.compat_generate(request)

    routes = [
        *simulation.attempts.routes(),
        *OpenAIRoutes(simulation).routes(),
        *OpenAITextRoutes(simulation).routes(),
        *tgi.routes(),
        *tei.routes(),
        Route("/", root, methods=["POST"]),
    ]
    return Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error},
        lifespan=_lifespan,
    )
