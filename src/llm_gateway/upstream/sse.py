"""One line of an OpenAI-style event stream, as both upstream kinds read it."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from llm_gateway.errors import UpstreamRejected, UpstreamServerError
from llm_gateway.upstream.statuses import error_of
from llm_gateway.upstream.wire import malformed, parsed

# The last line of an OpenAI-style stream (as huggingface_hub hands lines on: stripped).
DONE_LINE = "data: [DONE]"


def sse_payload(line: str, secrets: Collection[str] = ()) -> dict[str, Any] | None:
    """One line of an OpenAI-style stream: its JSON object, None for any other line
    (blank, comment, ``data: [DONE]``). An error frame raises, with the upstream's message
    and code (``secrets`` scrubbed), as huggingface_hub would."""
    if not line.startswith("data:"):
        return None
    data = line[5:].strip()
    if data == "[DONE]":
        return None
    payload = parsed(data)
    if not isinstance(payload, dict):
        raise malformed()
    error = payload.get("error")
    if error is not None:
        said, code = error_of(error, secrets)
        message = f"The upstream reported an error while generating: {said}"
        if payload.get("error_type") == "validation":
            raise UpstreamRejected(message, code=code or "upstream_rejected")
        if code:
            message = f"{message} [{code}]"
        raise UpstreamServerError(message, code="upstream_generation_error")
    return payload
