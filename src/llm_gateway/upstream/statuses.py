"""An upstream's HTTP error answer as the gateway's error, whichever adapter read it.

================  ===============================  =====
upstream status   ours                             sent
================  ===============================  =====
429               ``UpstreamRateLimited``          429, its Retry-After (as seconds) kept
400, 413, 422     ``UpstreamRejected``             400
other 4xx         ``UpstreamRefused``              502 (the gateway's token or model ids)
3xx               ``UpstreamBadResponse``          502 (redirects are not followed)
5xx, others       ``UpstreamServerError``          502
================  ===============================  =====

The upstream's own message and code (OpenAI's ``{"error": {"message", "code"}}``, TGI's
``{"error": "..."}``) reach the client: the message in ours, the code as ours when it is
a plain identifier (``context_length_exceeded``) and the request was refused (a 4xx the
client can act on), else in the message beside the gateway's code. A refusal with no
code whose message says the prompt exceeds the context gets OpenAI's code for it.
Whatever an upstream sends is data, not code: a ``Retry-After`` is read as seconds (an
unreadable one is dropped, never relayed as sent), and a message has the gateway's
secrets (its token or key, any bearer credential or ``hf_`` token the upstream echoes
back) scrubbed first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx2

from llm_gateway.errors import (
    UpstreamBadResponse,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRefused,
    UpstreamRejected,
    UpstreamServerError,
    UpstreamTimeout,
    UpstreamUnreachable,
)

# How much of an upstream message is passed on to the client.
MAX_UPSTREAM_MESSAGE_CHARS = 500
REDACTED = "[redacted]"
# Credentials of any kind an upstream may echo back, besides the gateway's own.
_CREDENTIALS = re.compile(r"(?i)(?<=bearer )[^\s\"',;]+|\bhf_[A-Za-z0-9]{8,}|\bsk-[\w-]{8,}")
_DELAY_SECONDS = re.compile(r"[0-9]{1,9}")
# An upstream's error code relayed as ours: an identifier, never free text.
_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")
# OpenAI's code for a prompt too long for the model, which servers that send no code
# word in their own way: vLLM and SGLang ("This model's maximum context length is 4096
# tokens"), llama.cpp ("the request exceeds the available context size"), TGI ("`inputs`
# tokens + `max_new_tokens` must be <= 4096"). The code is what a fallback by error
# class reads (core.retry.ERROR_CLASSES).
CONTEXT_LENGTH_EXCEEDED = "context_length_exceeded"
_CONTEXT_EXCEEDED = re.compile(
    r"(?i)maximum context length|exceeds the available context size|context window"
    r"|`max_new_tokens` must be <="
)


def from_status(
    status: int, retry_after: str | None, body: str, secrets: Collection[str] = ()
) -> UpstreamError:
    """The error for an upstream answer of ``status`` with ``body`` (read whole)."""
    if status == 429:
        return UpstreamRateLimited(
            "The upstream is rate limiting requests; retry later.",
            retry_after=retry_after_seconds(retry_after),
        )
    if 300 <= status < 400:
        return UpstreamBadResponse(
            f"The upstream answered with a redirect (HTTP {status}), which the gateway does "
            "not follow.",
            code="upstream_bad_response",
            upstream_status=status,
        )
    message, code = error_of(body, secrets)
    if status in (400, 413, 422):
        # The client's to fix: the upstream's code (context_length_exceeded) is the one to act on.
        if code is None and _CONTEXT_EXCEEDED.search(message):
            code = CONTEXT_LENGTH_EXCEEDED
        return UpstreamRejected(
            f"The upstream rejected the request{_said(message, code)}",
            code=code or "upstream_rejected",
            upstream_status=status,
        )
    if 400 <= status < 500:
        return UpstreamRefused(
            f"The upstream refused the gateway (HTTP {status}); check its token and model "
            f"ids{_said(message, code)}",
            code="upstream_refused",
            upstream_status=status,
        )
    return UpstreamServerError(
        f"The upstream failed (HTTP {status}){_said(message, code)}",
        code="upstream_server_error",
        upstream_status=status,
    )


def from_transport(exc: httpx2.HTTPError | httpx2.StreamError) -> UpstreamError:
    """A failure of the HTTP exchange itself (the transport's, see
    :mod:`llm_gateway.upstream.transport`) as ours."""
    if isinstance(exc, httpx2.TimeoutException):
        return UpstreamTimeout(
            "The upstream sent nothing within the upstream timeout.", code="upstream_timeout"
        )
    if isinstance(exc, httpx2.TransportError):
        return UpstreamUnreachable(
            f"The upstream connection failed ({type(exc).__name__}).", code="upstream_unreachable"
        )
    # Redirect loops, undecodable bodies: the upstream's doing, whatever the name.
    return UpstreamBadResponse(
        f"The upstream answered with a response the gateway cannot read ({type(exc).__name__}).",
        code="upstream_bad_response",
    )


def _said(message: str, code: str | None) -> str:
    """What the upstream said, appended to ours."""
    if code:
        message = f"[{code}] {message}"
    return f": {message}" if message else "."


def error_of(body: str | Any, secrets: Collection[str] = ()) -> tuple[str, str | None]:
    """An upstream error body's message (scrubbed, shortened) and code (an identifier or
    None). ``body`` is the text of the answer, or an error frame's parsed ``error``."""
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return excerpt(body, secrets), None
    error = body.get("error", body) if isinstance(body, dict) else body
    code = None
    if isinstance(error, dict):
        raw_code = error.get("code")
        if isinstance(raw_code, str) and _CODE.fullmatch(raw_code):
            code = raw_code
        error = error.get("message", error)
    text = error if isinstance(error, str) else json.dumps(error)
    return excerpt(text, secrets), code


def excerpt(text: str, secrets: Collection[str] = ()) -> str:
    """The start of an upstream's message, on one line, with no credential in it."""
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    text = _CREDENTIALS.sub(REDACTED, " ".join(text.split()))
    if len(text) <= MAX_UPSTREAM_MESSAGE_CHARS:
        return text
    return text[:MAX_UPSTREAM_MESSAGE_CHARS] + "…"


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header in seconds (delay-seconds or an HTTP date); None if unreadable."""
    if value is None:
        return None
    value = value.strip()
    if _DELAY_SECONDS.fullmatch(value):
        return float(value)
    if not value.isascii():
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
