"""Probes and the model list."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from llm_gateway.protocol import ModelCard, ModelList
from llm_gateway.settings import Settings

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness: the process serves HTTP")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: ready to take traffic (503 while starting or draining)",
    responses={503: {"description": "Not ready: starting up or draining for shutdown."}},
)
async def readyz(request: Request) -> Response:
    if request.app.state.ready:
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "draining"}, status_code=503)


@router.get("/v1/models", response_model=ModelList, summary="Models clients may ask for")
async def models(request: Request) -> ModelList:
    settings: Settings = request.app.state.settings
    upstream = settings.describe_upstream()
    return ModelList(
        data=[
            ModelCard(id=name, owned_by=settings.upstream_kind.value, root=model_id)
            for name, model_id in settings.model_aliases.items()
        ],
        upstream=upstream,
    )
