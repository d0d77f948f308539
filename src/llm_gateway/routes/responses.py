"""``POST /v1/responses``: OpenAI's Responses API, a door into the same core as chat.

Stateless: nothing is stored, so ``store`` is accepted and has no effect, and what needs
stored state (``previous_response_id``, ``conversation``) is refused with a 400; there is
no ``GET /v1/responses/{id}``.
"""

from __future__ import annotations

import time

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from llm_gateway.core.types import CompletionTask, Endpoint
from llm_gateway.protocol.responses import Response as ResponseObject
from llm_gateway.protocol.responses import ResponsesRequest
from llm_gateway.routes.deps import CallDep
from llm_gateway.routes.door_route import DoorRoute
from llm_gateway.routes.openapi import SIMULATOR_HEADERS, error_responses
from llm_gateway.routes.streaming import MEDIA_TYPE, dialect_frames, event_stream
from llm_gateway.translate.responses_output import Envelope, wire
from llm_gateway.translate.responses_request import completion_fields
from llm_gateway.translate.responses_stream import ResponseEvents

router = APIRouter(tags=["completions"], route_class=DoorRoute)
_ANSWERS = {
    **error_responses(),
    200: {
        "description": "The response object; with `stream: true`, Server-Sent Events "
        "(`event:` and `data:` lines) of `ResponseStreamEvent`, the last one "
        "`response.completed`, `response.incomplete` or `response.failed`; no `[DONE]`.",
        "content": {MEDIA_TYPE: {}},
    },
}


@router.post(
    "/v1/responses",
    response_model=ResponseObject,
    responses=_ANSWERS,
    summary="Create a model response (OpenAI's Responses API, stateless)",
    openapi_extra=SIMULATOR_HEADERS,
)
async def responses(body: ResponsesRequest, call: CallDep) -> Response:
    request = CompletionTask(
        origin=call.origin,
        endpoint=Endpoint.RESPONSES,
        model=body.model,
        stream=body.stream,
        **completion_fields(body),
    )
    created_at = int(time.time())
    if body.stream:
        relay = await call.stream(request)
        events = ResponseEvents(Envelope(request.request_id, created_at, relay.model, body))
        # No [DONE]: the last event says how the response ended (OpenAI sends none here).
        frames = dialect_frames(events, relay)
        return event_stream(frames, relay, on_error=events.failure, last=b"")
    completion = await call.complete(request)
    envelope = Envelope(request.request_id, created_at, completion.model, body)
    response = envelope.answer(completion.choices[0], completion.usage)
    return JSONResponse(wire(response))
