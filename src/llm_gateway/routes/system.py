"""Probes and the models."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from llm_gateway.errors import ModelNotFound
from llm_gateway.protocol import ErrorResponse, ModelCard, ModelList
from llm_gateway.routes.deps import Services, ServicesDep

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness: the process serves HTTP")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: ready to take traffic (503 while starting or draining)",
    responses={503: {"description": "Not ready: starting up or draining for shutdown."}},
)
async def readyz(services: ServicesDep) -> Response:
    if services.readiness.ready:
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "draining"}, status_code=503)


@router.get("/v1/models", response_model=ModelList, summary="Models clients may ask for")
async def models(services: ServicesDep) -> ModelList:
    described = services.upstreams
    upstream = (
        next(iter(described.values()))
        if len(described) == 1
        else "; ".join(f"{name}: {where}" for name, where in described.items())
    )
    return ModelList(data=list(_cards(services).values()), upstream=upstream)


@router.get(
    "/v1/models/{model:path}",
    response_model=ModelCard,
    responses={404: {"model": ErrorResponse, "description": "The model is not served."}},
    summary="One model, by id or alias",
)
async def model(model: str, services: ServicesDep) -> ModelCard:
    cards = _cards(services)
    try:
        return cards[model]
    except KeyError:
        known = ", ".join(sorted(cards))
        raise ModelNotFound(
            f"Model {model!r} is not served by this gateway. Available: {known}.",
            code="model_not_found",
            param="model",
        ) from None


def _cards(services: Services) -> dict[str, ModelCard]:
    """A card for every name a client may use: each model's, then its aliases."""
    return {
        name: ModelCard(
            id=name,
            created=services.created,
            owned_by=route.model_id.partition("/")[0] if "/" in route.model_id else "llm-gateway",
            root=route.model_id,
            kind=route.kind.value,
        )
        for route in services.routes
        for name in (route.name, *route.aliases)
    }
