"""``POST /v1/embeddings``: OpenAI's embeddings, as floats or base64."""

from __future__ import annotations

import base64
import sys
from array import array

from fastapi import APIRouter
from fastapi.responses import Response

from llm_gateway.core.types import EmbeddingTask
from llm_gateway.protocol import Embedding, EmbeddingList, EmbeddingRequest, EmbeddingUsage
from llm_gateway.routes.deps import CallDep
from llm_gateway.routes.door_route import DoorRoute
from llm_gateway.routes.openapi import SIMULATOR_HEADERS, error_responses

router = APIRouter(tags=["embeddings"], route_class=DoorRoute)


@router.post(
    "/v1/embeddings",
    response_model=EmbeddingList,
    responses=error_responses(),
    summary="Create embeddings (OpenAI-compatible)",
    openapi_extra=SIMULATOR_HEADERS,
)
async def embeddings(body: EmbeddingRequest, call: CallDep) -> Response:
    answer = await call.embed(
        EmbeddingTask(
            origin=call.origin, model=body.model, input=body.input, dimensions=body.dimensions
        )
    )
    encode = _base64 if body.encoding_format == "base64" else _floats
    response = EmbeddingList(
        data=[
            Embedding(index=index, embedding=encode(vector))
            for index, vector in enumerate(answer.vectors)
        ],
        model=answer.model,
        usage=EmbeddingUsage(
            prompt_tokens=answer.usage.prompt_tokens, total_tokens=answer.usage.total_tokens
        ),
    )
    return Response(response.model_dump_json(), media_type="application/json")


def _base64(vector: bytes) -> str:
    # Little-endian float32, what the OpenAI SDK decodes.
    return base64.b64encode(vector).decode()


def _floats(vector: bytes) -> list[float]:
    values = array("f", vector)
    if sys.byteorder == "big":
        values.byteswap()
    return values.tolist()
