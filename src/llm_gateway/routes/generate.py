"""``POST /generate``: the project's original endpoint, a prompt in and text out."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from fastapi import APIRouter
from fastapi.responses import Response

from llm_gateway.core.relay import Relay
from llm_gateway.core.types import CompletionTask, Endpoint
from llm_gateway.protocol import GenerateRequest, GenerateResponse
from llm_gateway.routes.deps import CallDep, stop_sequences
from llm_gateway.routes.door_route import DoorRoute
from llm_gateway.routes.openapi import SIMULATOR_HEADERS, completion_responses
from llm_gateway.routes.streaming import GenerateFrames, event_stream, wire_usage

router = APIRouter(tags=["completions"], route_class=DoorRoute)


@router.post(
    "/generate",
    response_model=GenerateResponse,
    responses=completion_responses("GenerateStreamEvent"),
    summary="Generate text from a prompt",
    openapi_extra=SIMULATOR_HEADERS,
)
async def generate(body: GenerateRequest, call: CallDep) -> Response:
    request = CompletionTask(
        origin=call.origin,
        endpoint=Endpoint.GENERATE,
        model=body.model,
        stop=stop_sequences(body.stop),
        stream=body.stream,
        messages=[{"role": "user", "content": body.prompt}],
        max_tokens=body.max_new_tokens,
        temperature=body.temperature,
        top_p=body.top_p,
        seed=body.seed,
    )
    if body.stream:
        relay = await call.stream(request)
        return event_stream(_frames(request, relay), relay)
    completion = await call.complete(request)
    response = GenerateResponse(
        id=request.request_id,
        model=completion.model,
        generated_text=completion.text,
        finish_reason=completion.finish_reason,
        usage=wire_usage(completion.usage),
    )
    return Response(response.model_dump_json(), media_type="application/json")


async def _frames(request: CompletionTask, relay: Relay) -> AsyncGenerator[bytes, None]:
    frames = GenerateFrames(request.request_id, relay.model)
    async for chunk in relay:
        yield frames.event(chunk)
