"""``POST /v1/chat/completions``: the OpenAI-compatible door."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import Response

from llm_gateway import sse
from llm_gateway.completion import CompletionRequest
from llm_gateway.core import Relay
from llm_gateway.metrics import Endpoint
from llm_gateway.protocol import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionRequest,
    ChatMessage,
    Choice,
)
from llm_gateway.routes.deps import ClientDep, GatewayDep, RequestLogDep, SimulatorHeadersDep
from llm_gateway.routes.disconnect import unless_disconnected
from llm_gateway.routes.errors import COMPLETION_ERRORS
from llm_gateway.routes.frames import ChatFrames
from llm_gateway.routes.render import event_stream, wire_usage

router = APIRouter(tags=["completions"])


@router.post(
    "/v1/chat/completions",
    response_model=ChatCompletion,
    responses={
        **COMPLETION_ERRORS,
        200: {
            "description": "The completion; with `stream: true`, Server-Sent Events of "
            "`ChatCompletionChunk` closed by `data: [DONE]`.",
            "content": {sse.MEDIA_TYPE: {}},
        },
    },
    summary="Create a chat completion (OpenAI-compatible)",
)
async def chat_completions(
    body: ChatCompletionRequest,
    gateway: GatewayDep,
    log: RequestLogDep,
    client: ClientDep,
    simulator_headers: SimulatorHeadersDep,
    http: Request,
) -> Response:
    messages = [{"role": m.role, "content": _text(m)} for m in body.messages]
    gateway.check_prompt_size(sum(len(m["content"]) for m in messages))
    request = CompletionRequest(
        request_id=log.request_id,
        endpoint=Endpoint.CHAT_COMPLETIONS,
        model=gateway.resolve_model(body.model),
        messages=messages,
        max_tokens=body.max_completion_tokens or body.max_tokens,
        temperature=body.temperature,
        top_p=body.top_p,
        stop=[body.stop] if isinstance(body.stop, str) else body.stop,
        seed=body.seed,
        frequency_penalty=body.frequency_penalty,
        presence_penalty=body.presence_penalty,
        stream=body.stream,
        client=client,
        simulator_headers=simulator_headers,
    )
    completion_id = f"chatcmpl-{request.request_id}"
    created = int(time.time())
    if body.stream:
        include_usage = body.stream_options is not None and body.stream_options.include_usage
        relay = await gateway.stream(request, log)
        frames = _frames(completion_id, created, relay, include_usage)
        return event_stream(frames, relay)
    completion = await unless_disconnected(http, gateway.complete(request, log))
    response = ChatCompletion(
        id=completion_id,
        created=created,
        model=completion.model,
        choices=[
            Choice(
                message=AssistantMessage(content=completion.text),
                finish_reason=completion.finish_reason,
            )
        ],
        usage=wire_usage(completion.usage),
    )
    return Response(response.model_dump_json(), media_type="application/json")


def _text(message: ChatMessage) -> str:
    if isinstance(message.content, str):
        return message.content
    return "".join(part.text for part in message.content)


async def _frames(
    completion_id: str, created: int, relay: Relay, include_usage: bool
) -> AsyncIterator[bytes]:
    frames = ChatFrames(completion_id, created, relay.model)
    yield frames.opening()
    async for chunk in relay:
        if chunk.usage is not None:
            if include_usage:
                yield frames.usage(chunk.usage)
            continue
        yield frames.content(chunk)
