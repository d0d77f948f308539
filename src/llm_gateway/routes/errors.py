"""The error responses every completion route documents in OpenAPI."""

from __future__ import annotations

from typing import Any

from llm_gateway.protocol import ErrorResponse

COMPLETION_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorResponse,
        "description": "The request is invalid, or the upstream "
        "rejected it as invalid; malformed JSON.",
    },
    401: {
        "model": ErrorResponse,
        "description": "API keys are on and none, or an unknown one, was sent.",
    },
    404: {"model": ErrorResponse, "description": "The model is not served by this gateway."},
    413: {"model": ErrorResponse, "description": "The body exceeds the configured limit."},
    422: {
        "model": ErrorResponse,
        "description": "A field is missing, of the wrong type or out of range.",
    },
    429: {
        "model": ErrorResponse,
        "description": "The upstream is rate limiting; the Retry-After header says when to retry.",
    },
    500: {"model": ErrorResponse, "description": "An unexpected gateway error."},
    502: {
        "model": ErrorResponse,
        "description": "The upstream failed, was unreachable or answered something unreadable.",
    },
    504: {
        "model": ErrorResponse,
        "description": "The upstream sent nothing within the upstream timeout.",
    },
}
