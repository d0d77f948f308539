"""The Text Embeddings Inference dialect: ``POST /embed``, and ``POST /`` for embeddings.

``AsyncInferenceClient(base_url=...).feature_extraction`` posts ``{"inputs": ...}`` to the
base URL itself, the route TGI's ``text_generation`` uses too; :func:`is_embedding` tells
the two payloads apart (a generation request carries ``parameters``). Vectors are
deterministic per input, unit length, of ``embedding_dimensions`` (fewer with
``dimensions``, cut and normalised again as Matryoshka models do). Errors use the same
envelope as TGI's.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from llm_gateway.simulator.attempts import Attempt
from llm_gateway.simulator.protocol import EmbedRequest
from llm_gateway.simulator.responses import json_body
from llm_gateway.simulator.simulation import NOT_FOR_EMBEDDINGS, Simulation
from llm_gateway.simulator.tgi_api import (
    MALFORMED_BODY,
    error_response,
    fault_before_generation,
    parsed,
)


def is_embedding(body: bytes) -> bool:
    try:
        payload = json.loads(body)
    except ValueError:
        return False
    return isinstance(payload, dict) and "parameters" not in payload and "stream" not in payload


def vector(item: str | list[int], dimensions: int) -> list[float]:
    """The input's unit vector, cut to ``dimensions`` and normalised again: the first
    values drawn are the same whatever the length, as a Matryoshka model's are."""
    digest = hashlib.blake2b(json.dumps(item).encode(), digest_size=8).digest()
    values = np.random.default_rng(int.from_bytes(digest)).standard_normal(dimensions)
    norm = float(np.linalg.norm(values)) or 1.0
    return (values / norm).tolist()  # type: ignore[no-any-return]


class TEIRoutes:
    def __init__(self, simulation: Simulation) -> None:
        self.simulation = simulation

    def routes(self) -> list[Route]:
        return [Route("/embed", self.embed, methods=["POST"])]

    async def embed(self, request: Request) -> Response:
        simulation = self.simulation
        size = simulation.settings.embedding_dimensions
        read = await parsed(request, EmbedRequest.model_validate_json)
        if isinstance(read, Response):
            return read
        requested_fault, body = read
        if body.dimensions is not None and body.dimensions > size:
            return error_response(422, f"dimensions must be at most {size}", "validation")

        fault, answer = fault_before_generation(
            simulation,
            requested_fault,
            Attempt(simulation.settings.models[0], False, None),
            unplayable=NOT_FOR_EMBEDDINGS,
        )
        if answer is not None:
            return answer
        dimensions = body.dimensions or size
        vectors = [vector(item, dimensions) for item in body.batch()]
        # An embedding takes the time of one token.
        return simulation.whole(
            fault, requested_fault, json_body(vectors), tokens=1, malformed=MALFORMED_BODY
        )
