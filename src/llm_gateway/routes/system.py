"""Probes and the models."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from llm_gateway.errors import ModelNotFound
from llm_gateway.protocol import ErrorResponse, ModelCard, ModelList
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
    return ModelList(data=list(_cards(request).values()), upstream=settings.describe_upstream())


@router.get(
    "/v1/models/{model:path}",
    response_model=ModelCard,
    responses={404: {"model": ErrorResponse, "description": "The model is not served."}},
    summary="One model, by id or alias",
)
async def model(model: str, request: Request) -> ModelCard:
    cards = _cards(request)
    try:
        return cards[model]
    except KeyError:
        known = ", ".join(sorted(cards))
        raise ModelNotFound(
            f"Model {model!r} is not served by this gateway. Available: {known}.",
            code="model_not_found",
            param="model",
        ) from None


def _cards(request: Request) -> dict[str, ModelCard]:
    settings: Settings = request.app.state.settings
    created: int = request.app.state.created
    kinds = (("chat", settings.model_aliases), ("embedding", settings.embedding_model_aliases))
    return {
        name: ModelCard(
            id=name,
            created=created,
            owned_by=model_id.partition("/")[0] if "/" in model_id else "llm-gateway",
            root=model_id,
            kind=kind,
        )
        for kind, aliases in kinds
        for name, model_id in aliases.items()
    }
