"""``GET /metrics``: the Prometheus exposition (routed only when metrics are on)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from llm_gateway.routes.deps import ExpositionDep

router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    summary="Prometheus metrics (OpenMetrics, with exemplars, when the scraper asks for it)",
    response_class=Response,
)
async def metrics(request: Request, exposition: ExpositionDep) -> Response:
    body, content_type = exposition.render(request.headers.get("accept", ""))
    return Response(body, media_type=content_type)
