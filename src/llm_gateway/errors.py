"""The gateway's errors and the one envelope every error body is rendered in.

Every error a client can see is a :class:`GatewayError`; its subclasses fix the status::

    GatewayError
    ├── InvalidRequest ............. 400  the body is not JSON, or the prompt is too long
    ├── ValidationFailed ........... 422  a field is missing, mistyped or out of range
    ├── ModelNotFound .............. 404  the model is not one the gateway serves
    ├── PayloadTooLarge ............ 413  the body exceeds the configured limit
    ├── HeaderTooLarge ............. 431  the head exceeds its size or field-count limit
    ├── RequestTimeout ............. 408  the head or body did not arrive in time
    ├── Unauthorized ............... 401  no API key, or not a known one
    ├── RateLimited ................ 429  this API key spent its requests or tokens per minute
    ├── Overloaded ................. 503  too many requests in flight and queued; retry soon
    ├── ShuttingDown ............... 503  the drain time ran out (a stream's last frame)
    ├── RateLimitStoreUnavailable .. 503  Redis does not answer and failure mode is closed
    ├── ClientDisconnected ......... 499  the client left before the answer (logged, unsent)
    └── UpstreamError .............. the upstream failed; ``reason`` labels the metric
        ├── UpstreamRateLimited .... 429  upstream said 429; Retry-After passed on
        ├── UpstreamRejected ....... 400  upstream refused the request as invalid
        ├── UpstreamRefused ........ 502  upstream refused the gateway (token, unknown model)
        ├── UpstreamTimeout ........ 504  no byte within the upstream timeout
        │   └── DeadlineExceeded ... 504  not done within the request deadline
        ├── UpstreamUnreachable .... 502  connection refused, reset or dropped
        ├── UpstreamServerError .... 502  upstream 5xx, or an error frame in a stream
        ├── UpstreamBadResponse .... 502  the upstream answered something unparsable
        └── UpstreamResponseTooLarge 502  a body or stream line past the gateway's limits

The body is always ``{"error": {"message", "type", "code", "param"}}``, the shape the
OpenAI SDK and ``huggingface_hub`` already understand. The gateway's own refusals (401,
429, 503) carry their reason, so each is counted once, where it is recorded; the reasons'
small fixed sets are defined here, with the errors that carry them.

A leaf: this module imports nothing of the gateway's, so every layer (the HTTP layer,
the routes, the core, the upstream adapters) can raise and render these errors without
an import cycle (``tests/unit/test_imports.py`` keeps it so).
"""

from __future__ import annotations

import enum
import math
from typing import ClassVar


class ErrorReason(enum.StrEnum):
    """Why an upstream call failed."""

    RATE_LIMITED = "rate_limited"
    TIMEOUT = "timeout"
    SERVER_ERROR = "server_error"
    CONNECTION = "connection"
    BAD_RESPONSE = "bad_response"
    RESPONSE_TOO_LARGE = "response_too_large"
    CLIENT_ERROR = "client_error"


class RateLimit(enum.StrEnum):
    """Which per-key budget a request exceeded."""

    REQUESTS = "requests"
    TOKENS = "tokens"


class ShedReason(enum.StrEnum):
    """Why the concurrency limiter turned a request away."""

    QUEUE_FULL = "queue_full"
    QUEUE_TIMEOUT = "queue_timeout"


class AuthFailure(enum.StrEnum):
    MISSING = "missing"
    INVALID = "invalid"


class GatewayError(Exception):
    status: ClassVar[int] = 500
    type: ClassVar[str] = "server_error"

    def __init__(self, message: str, *, code: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param

    @property
    def headers(self) -> dict[str, str]:
        return {}

    def body(self) -> dict[str, dict[str, str | None]]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "code": self.code,
                "param": self.param,
            }
        }


class InvalidRequest(GatewayError):
    status = 400
    type = "invalid_request_error"


class ValidationFailed(GatewayError):
    status = 422
    type = "invalid_request_error"


class ModelNotFound(GatewayError):
    status = 404
    type = "invalid_request_error"


class PayloadTooLarge(GatewayError):
    status = 413
    type = "invalid_request_error"


class HeaderTooLarge(GatewayError):
    status = 431
    type = "invalid_request_error"


class RequestTimeout(GatewayError):
    status = 408
    type = "invalid_request_error"


class Unauthorized(GatewayError):
    status = 401
    type = "authentication_error"

    def __init__(self, message: str, *, reason: AuthFailure) -> None:
        super().__init__(message, code=f"{reason}_api_key")
        self.reason = reason

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class _RetryLater(GatewayError):
    def __init__(self, message: str, *, code: str, retry_after: int) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class RateLimited(_RetryLater):
    status = 429
    type = "rate_limit_error"

    def __init__(self, message: str, *, client: str, limit: RateLimit, retry_after: int) -> None:
        super().__init__(message, code=f"{limit}_per_minute_exceeded", retry_after=retry_after)
        self.client = client
        self.limit = limit


class Overloaded(_RetryLater):
    status = 503
    type = "overloaded_error"

    def __init__(self, message: str, *, reason: ShedReason, retry_after: int) -> None:
        super().__init__(message, code="gateway_overloaded", retry_after=retry_after)
        self.reason = reason


class ShuttingDown(GatewayError):
    status = 503
    type = "overloaded_error"


class RateLimitStoreUnavailable(_RetryLater):
    status = 503
    type = "overloaded_error"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, code="rate_limit_store_unavailable", retry_after=retry_after)


class ClientDisconnected(GatewayError):
    status = 499
    type = "client_closed_request"


class UpstreamError(GatewayError):
    status = 502
    type = "upstream_error"
    reason: ClassVar[ErrorReason] = ErrorReason.SERVER_ERROR

    def __init__(self, message: str, *, code: str, upstream_status: int | None = None) -> None:
        super().__init__(message, code=code)
        self.upstream_status = upstream_status


class UpstreamRateLimited(UpstreamError):
    status = 429
    type = "rate_limit_error"
    reason = ErrorReason.RATE_LIMITED

    def __init__(self, message: str, *, retry_after: float | None) -> None:
        super().__init__(message, code="upstream_rate_limited", upstream_status=429)
        # Seconds, read from the upstream's Retry-After; None when it sent none readable.
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        if self.retry_after is None:
            return {}
        return {"Retry-After": str(math.ceil(self.retry_after))}


class UpstreamRejected(UpstreamError):
    status = 400
    type = "invalid_request_error"
    reason = ErrorReason.CLIENT_ERROR


class UpstreamRefused(UpstreamError):
    reason = ErrorReason.CLIENT_ERROR


class UpstreamTimeout(UpstreamError):
    status = 504
    type = "timeout_error"
    reason = ErrorReason.TIMEOUT


class DeadlineExceeded(UpstreamTimeout):
    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"The upstream did not finish within the request deadline of {seconds:g} s.",
            code="request_deadline_exceeded",
        )


class UpstreamUnreachable(UpstreamError):
    reason = ErrorReason.CONNECTION


class UpstreamServerError(UpstreamError):
    reason = ErrorReason.SERVER_ERROR


class UpstreamBadResponse(UpstreamError):
    reason = ErrorReason.BAD_RESPONSE


class UpstreamResponseTooLarge(UpstreamError):
    reason = ErrorReason.RESPONSE_TOO_LARGE
