"""``POST /generate``: the project's original endpoint, a prompt in and text out."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import Response

from llm_gateway import sse
from llm_gateway.completion import CompletionRequest
from llm_gateway.core import Relay
from llm_gateway.metrics import Endpoint
from llm_gateway.protocol import GenerateRequest, GenerateResponse
from llm_gateway.routes.deps import ClientDep, GatewayDep, RequestLogDep, SimulatorHeadersDep
from llm_gateway.routes.disconnect import unless_disconnected
from llm_gateway.routes.errors import COMPLETION_ERRORS
from llm_gateway.routes.frames import GenerateFrames
from llm_gateway.routes.render import event_stream, wire_usage

router = APIRouter(tags=["completions"])


@router.post(
    "/generate",
    response_model=GenerateResponse,
    responses={
        **COMPLETION_ERRORS,
        200: {
            "description": "The completion; with `stream: true`, Server-Sent Events of "
            "`GenerateStreamEvent` closed by `data: [DONE]`.",
            "content": {sse.MEDIA_TYPE: {}},
        },
    },
    summary="Generate text from a prompt",
)
async def generate(
    body: GenerateRequest,
    gateway: GatewayDep,
    log: RequestLogDep,
    client: ClientDep,
    simulator_headers: SimulatorHeadersDep,
    http: Request,
) -> Response:
    gateway.check_prompt_size(len(body.prompt))
    request = CompletionRequest(
        request_id=log.request_id,
        endpoint=Endpoint.GENERATE,
        model=gateway.resolve_model(body.model),
        messages=[{"role": "user", "content": body.prompt}],
        max_tokens=body.max_new_tokens,
        temperature=body.temperature,
        top_p=body.top_p,
        stop=[body.stop] if isinstance(body.stop, str) else body.stop,
        seed=body.seed,
        stream=body.stream,
        client=client,
        simulator_headers=simulator_headers,
    )
    if body.stream:
        relay = await gateway.stream(request, log)
        return event_stream(_frames(request, relay), relay)
    completion = await unless_disconnected(http, gateway.complete(request, log))
    response = GenerateResponse(
        id=request.request_id,
        model=completion.model,
        generated_text=completion.text,
        finish_reason=completion.finish_reason,
        usage=wire_usage(completion.usage),
    )
    return Response(response.model_dump_json(), media_type="application/json")


async def _frames(request: CompletionRequest, relay: Relay) -> AsyncIterator[bytes]:
    frames = GenerateFrames(request.request_id, relay.model)
    async for chunk in relay:
        yield frames.event(chunk)
