"""``POST /v1/chat/completions``: the OpenAI-compatible door."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator

from fastapi import APIRouter
from fastapi.responses import Response

from llm_gateway.core.relay import Relay
from llm_gateway.core.types import CompletionTask, Endpoint, GeneratedChoice
from llm_gateway.protocol import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionRequest,
    Choice,
    FunctionCallOut,
    ToolCallOut,
)
from llm_gateway.routes.chat_request import (
    dumped,
    refuse_unservable,
    upstream_message,
    upstream_tools,
)
from llm_gateway.routes.deps import CallDep, stop_sequences
from llm_gateway.routes.door_route import DoorRoute
from llm_gateway.routes.openapi import SIMULATOR_HEADERS, completion_responses
from llm_gateway.routes.streaming import ChatFrames, event_stream, wire_usage

router = APIRouter(tags=["completions"], route_class=DoorRoute)


@router.post(
    "/v1/chat/completions",
    response_model=ChatCompletion,
    responses=completion_responses("ChatCompletionChunk"),
    summary="Create a chat completion (OpenAI-compatible)",
    openapi_extra=SIMULATOR_HEADERS,
)
async def chat_completions(body: ChatCompletionRequest, call: CallDep) -> Response:
    refuse_unservable(body)
    tools, tool_choice = upstream_tools(body)
    extra = dict(body.model_extra or {})
    if body.parallel_tool_calls is not None:
        # Not a parameter of InferenceClient's: it travels with the unknown fields.
        extra["parallel_tool_calls"] = body.parallel_tool_calls
    request = CompletionTask(
        origin=call.origin,
        endpoint=Endpoint.CHAT_COMPLETIONS,
        model=body.model,
        stop=stop_sequences(body.stop),
        stream=bool(body.stream),
        messages=[upstream_message(m) for m in body.messages],
        max_tokens=body.max_completion_tokens or body.max_tokens,
        temperature=body.temperature,
        top_p=body.top_p,
        seed=body.seed,
        frequency_penalty=body.frequency_penalty,
        presence_penalty=body.presence_penalty,
        tools=tools,
        tool_choice=tool_choice,
        response_format=dumped(body.response_format),
        logprobs=body.logprobs,
        top_logprobs=body.top_logprobs,
        logit_bias=body.logit_bias,
        n=body.n,
        extra=extra,
    )
    completion_id = f"chatcmpl-{request.request_id}"
    created = int(time.time())
    if body.stream:
        include_usage = body.stream_options is not None and body.stream_options.include_usage
        relay = await call.stream(request)
        frames = _frames(completion_id, created, relay, include_usage, body.n or 1)
        return event_stream(frames, relay)
    completion = await call.complete(request)
    response = ChatCompletion(
        id=completion_id,
        created=created,
        model=completion.model,
        choices=[_choice(choice) for choice in completion.choices],
        usage=wire_usage(completion.usage),
    )
    # OpenAI's schema has tool_calls as an array or nothing, never null.
    without_calls = {
        index: {"message": {"tool_calls"}}
        for index, choice in enumerate(response.choices)
        if choice.message.tool_calls is None
    }
    rendered = response.model_dump_json(exclude={"choices": without_calls})
    return Response(rendered, media_type="application/json")


def _choice(choice: GeneratedChoice) -> Choice:
    calls = [
        ToolCallOut(id=c.id, function=FunctionCallOut(name=c.name, arguments=c.arguments))
        for c in choice.tool_calls
    ]
    return Choice(
        index=choice.index,
        message=AssistantMessage(content=choice.text, tool_calls=calls or None),
        logprobs=choice.logprobs,
        finish_reason=choice.finish_reason,
    )


async def _frames(
    completion_id: str, created: int, relay: Relay, include_usage: bool, choices: int
) -> AsyncGenerator[bytes, None]:
    frames = ChatFrames(completion_id, created, relay.model)
    yield frames.opening(choices)
    async for chunk in relay:
        if chunk.usage is not None:
            if include_usage:
                yield frames.usage(chunk.usage)
            continue
        yield frames.content(chunk)
