"""What every completion route documents in OpenAPI: its responses, and the simulator's
fault headers it forwards."""

from __future__ import annotations

from typing import Any

from llm_gateway.faults import MAX_FAULT_TIMES, Fault
from llm_gateway.protocol import ErrorResponse
from llm_gateway.routes.streaming import MEDIA_TYPE

_ERRORS = {
    400: "The body is not JSON, the prompt is too long, the model is of another kind (a chat "
    "model asked for embeddings), or the upstream rejected the request as invalid.",
    401: "API keys are on and none, or an unknown one, was sent.",
    404: "The model is not served by this gateway.",
    413: "The body exceeds the configured limit.",
    422: "A field is missing, unknown, of the wrong type or out of range.",
    429: "The upstream is rate limiting, or this API key spent its budget; Retry-After says "
    "when to retry.",
    500: "An unexpected gateway error.",
    502: "The upstream failed, was unreachable or answered something unreadable.",
    503: "The gateway is at capacity; Retry-After says when to retry.",
    504: "The upstream sent nothing within the upstream timeout.",
}


def error_responses() -> dict[int | str, dict[str, Any]]:
    """Every error status a route toward the upstream answers."""
    return {
        status: {"model": ErrorResponse, "description": description}
        for status, description in _ERRORS.items()
    }


def completion_responses(event: str) -> dict[int | str, dict[str, Any]]:
    """Every status a completion route answers; ``event`` names its stream's frame model."""
    responses = error_responses()
    responses[200] = {
        "description": f"The completion; with `stream: true`, Server-Sent Events of `{event}` "
        "closed by `data: [DONE]`.",
        "content": {MEDIA_TYPE: {}},
    }
    return responses


def _header(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": description,
        "schema": {"title": name, "description": description, **schema},
    }


# Read by routes.deps.simulator_headers only when an upstream is the simulator; documented
# here rather than declared as parameters, which FastAPI would validate on every request.
SIMULATOR_HEADERS: dict[str, Any] = {
    "parameters": [
        _header(
            "X-Simulator-Fault",
            "Ask the simulator behind the gateway for a fault: its name (listed here), "
            "optionally followed by `; key=value` parameters, and further faults after commas "
            "(the README's simulator section). Forwarded, with every X-Simulator-* header, "
            "only to an upstream that is the simulator; ignored otherwise.",
            {"type": "string", "enum": [fault.value for fault in Fault]},
        ),
        _header(
            "X-Simulator-Fault-Times",
            "Apply X-Simulator-Fault to the first N attempts of this request only.",
            {"type": "integer", "minimum": 1, "maximum": MAX_FAULT_TIMES},
        ),
    ]
}
