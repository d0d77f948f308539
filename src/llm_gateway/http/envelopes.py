"""Which envelope an error leaves in: the gateway's own (OpenAI's shape, ``errors``) on
every door but Anthropic's Messages API, whose clients read only Anthropic's.

Anthropic's envelope is ``{"type": "error", "error": {"type", "message"}, "request_id"}``,
its ``type`` fixed by the status as Anthropic's API reference ("Errors") lists them. The
status stays the gateway's own (a 502 is not turned into Anthropic's 529), but for
validation: Anthropic answers 400 where the gateway's OpenAI doors answer 422.
"""

from __future__ import annotations

from typing import Any

from llm_gateway.errors import GatewayError
from llm_gateway.http.context import RequestContext

MESSAGES_PATH = "/v1/messages"
_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def rendered(
    error: GatewayError, context: RequestContext | None, status: int
) -> tuple[int, dict[str, Any]]:
    """The status and body of ``error``, answered with ``status`` in its request's door."""
    path = context.path if context is not None else ""
    if path == MESSAGES_PATH or path.startswith(MESSAGES_PATH + "/"):
        return anthropic(error, status, context.request_id if context is not None else None)
    return status, error.body()


def anthropic(
    error: GatewayError, status: int, request_id: str | None = None
) -> tuple[int, dict[str, Any]]:
    """``error`` in Anthropic's envelope; other 4xx are ``invalid_request_error`` and
    other 5xx ``api_error``, as Anthropic's reference says of its own."""
    status = 400 if status == 422 else status
    kind = _TYPES.get(status, "invalid_request_error" if status < 500 else "api_error")
    body: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": error.message}}
    if request_id is not None:
        body["request_id"] = request_id
    return status, body
