"""``POST /v1/messages`` and ``POST /v1/messages/count_tokens``: Anthropic's Messages API,
a door into the same core as chat (translated by :mod:`~llm_gateway.routes.anthropic`).
Its errors leave in Anthropic's envelope (:mod:`~llm_gateway.http.envelopes`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from llm_gateway.protocol.anthropic import (
    AnthropicError,
    CountTokensRequest,
    MessageResponse,
    MessagesRequest,
    TokenCount,
)
from llm_gateway.routes import anthropic
from llm_gateway.routes.deps import CallDep
from llm_gateway.routes.door_route import DoorRoute
from llm_gateway.routes.message_events import MessageEvents, error_event
from llm_gateway.routes.openapi import SIMULATOR_HEADERS, error_responses
from llm_gateway.routes.streaming import MEDIA_TYPE, dialect_frames, event_stream

router = APIRouter(tags=["messages"], route_class=DoorRoute)


def _responses(answer: str, streamed: bool) -> dict[int | str, dict[str, Any]]:
    # Anthropic answers 400 where the OpenAI doors answer 422.
    responses: dict[int | str, dict[str, Any]] = {
        status: {**documented, "model": AnthropicError}
        for status, documented in error_responses().items()
        if status != 422
    }
    responses[400]["description"] += " Or a field is missing, unknown, mistyped or out of range."
    responses[200] = {"description": answer}
    if streamed:
        responses[200]["content"] = {MEDIA_TYPE: {}}
    return responses


@router.post(
    "/v1/messages",
    response_model=MessageResponse,
    responses=_responses(
        "The message; with `stream: true`, Anthropic's Server-Sent Events, `message_start` "
        "to `message_stop`.",
        streamed=True,
    ),
    summary="Create a message (Anthropic's Messages API)",
    openapi_extra=SIMULATOR_HEADERS,
)
async def messages(body: MessagesRequest, call: CallDep) -> Response:
    request = anthropic.completion_task(body, call.origin)
    message_id = f"msg_{request.request_id}"
    if body.stream:
        relay = await call.stream(request)
        events = MessageEvents(
            message_id, relay.model, anthropic.input_tokens(request), body.stop_sequences
        )
        frames = dialect_frames(events, relay)
        return event_stream(frames, relay, on_error=error_event, last=b"")
    completion = await call.complete(request)
    answer = anthropic.message(completion, message_id, body.stop_sequences)
    return Response(answer.model_dump_json(), media_type="application/json")


@router.post(
    "/v1/messages/count_tokens",
    response_model=TokenCount,
    responses=_responses("The prompt's input tokens, as the gateway estimates them.", False),
    summary="Count a message's input tokens (Anthropic's Messages API)",
    openapi_extra=SIMULATOR_HEADERS,
)
async def count_tokens(body: CountTokensRequest, call: CallDep) -> TokenCount:
    request = anthropic.prompt_task(body, call.origin)
    # The checks of a request to answer: a model not served is a 404, too long a prompt a 400.
    call.gateway.model_for(request)
    return TokenCount(input_tokens=anthropic.input_tokens(request))
