"""``POST /v1/chat/completions``: the OpenAI-compatible door."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.responses import Response

from llm_gateway.core.relay import Relay
from llm_gateway.core.types import Endpoint
from llm_gateway.protocol import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionRequest,
    ChatMessage,
    Choice,
)
from llm_gateway.routes.deps import CallDep
from llm_gateway.routes.openapi import completion_responses
from llm_gateway.routes.streaming import ChatFrames, event_stream, wire_usage

router = APIRouter(tags=["completions"])


@router.post(
    "/v1/chat/completions",
    response_model=ChatCompletion,
    responses=completion_responses("ChatCompletionChunk"),
    summary="Create a chat completion (OpenAI-compatible)",
)
async def chat_completions(body: ChatCompletionRequest, call: CallDep) -> Response:
    request = call.completion_request(
        Endpoint.CHAT_COMPLETIONS,
        body.model,
        [{"role": m.role, "content": _text(m)} for m in body.messages],
        body.stop,
        body.stream,
        max_tokens=body.max_completion_tokens or body.max_tokens,
        temperature=body.temperature,
        top_p=body.top_p,
        seed=body.seed,
        frequency_penalty=body.frequency_penalty,
        presence_penalty=body.presence_penalty,
    )
    completion_id = f"chatcmpl-{request.request_id}"
    created = int(time.time())
    if body.stream:
        include_usage = body.stream_options is not None and body.stream_options.include_usage
        relay = await call.stream(request)
        frames = _frames(completion_id, created, relay, include_usage)
        return event_stream(frames, relay)
    completion = await call.complete(request)
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
