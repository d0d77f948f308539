"""``GET /metrics``: the Prometheus exposition (routed only when metrics are on)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    summary="Prometheus metrics (OpenMetrics, with exemplars, when the scraper asks for it)",
    response_class=Response,
)
async def metrics(request: Request) -> Response:
    registry: CollectorRegistry = request.app.state.scrape_registry()
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encode(registry), media_type=content_type)
